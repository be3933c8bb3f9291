/**
 * Synapse's shared-secret registration, exactly as Synapse serves it, so register_new_matrix_user,
 * admin tools and conformance suites can create users:
 *   GET  /_synapse/admin/v1/register → { nonce }
 *   POST /_synapse/admin/v1/register { nonce, username, password, admin, user_type?, displayname?, mac }
 * where mac = hex HMAC-SHA1(shared secret, nonce NUL username NUL password NUL "admin"|"notadmin" [NUL user_type]).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiRouter } from '../../src/api/http/router.js';
import type { Services } from '../../src/services/index.js';
import { MatrixError, forbidden } from '../../src/errors.js';
import { compileSchema } from '../../src/api/http/validate.js';
import { MAX_PROFILE_FIELD_LENGTH } from '../../src/services/profile.js';

/** Synapse's user types (synapse.api.constants.UserTypes): support accounts and bots. */
const USER_TYPES: ReadonlySet<string> = new Set(['support', 'bot']);

const NONCE_LIFETIME_MS = 60_000;

const bodySchema = compileSchema({
  type: 'object',
  required: ['nonce', 'username', 'password', 'mac'],
  properties: {
    nonce: { type: 'string' },
    username: { type: 'string', minLength: 1 },
    password: { type: 'string', minLength: 1 },
    displayname: { type: 'string' },
    admin: { type: 'boolean' },
    user_type: { type: ['string', 'null'] },
    mac: { type: 'string' },
  },
});

export function registrationMac(secret: string, nonce: string, username: string, password: string, admin: boolean, userType?: string | null): string {
  const mac = createHmac('sha1', secret);
  mac.update(nonce).update('\x00').update(username).update('\x00').update(password).update('\x00').update(admin ? 'admin' : 'notadmin');
  if (userType) mac.update('\x00').update(userType);
  return mac.digest('hex');
}

export function registerSharedSecretRoutes(r: ApiRouter, s: Services, sharedSecret: () => string | undefined): void {
  r.add('GET', ['/_synapse/admin/v1/register'], {}, async () => {
    if (!sharedSecret()) throw new MatrixError(400, 'M_UNKNOWN', 'Shared secret registration is not enabled');
    const nonce = randomBytes(20).toString('hex');
    await s.storage.registration.addNonce(nonce, Date.now());
    return { nonce };
  });

  r.add('POST', ['/_synapse/admin/v1/register'], { validator: bodySchema }, async ({ body, ip }) => {
    const secret = sharedSecret();
    if (!secret) throw new MatrixError(400, 'M_UNKNOWN', 'Shared secret registration is not enabled');
    s.rateLimiters.registration.take(ip);
    const { nonce, username, password, mac } = body as Record<string, string>;
    const admin = body.admin === true;
    const userType = (body.user_type as string | null | undefined) ?? null;
    // Synapse knows two user types; anything else is refused before the nonce is spent.
    if (userType !== null && !USER_TYPES.has(userType)) throw new MatrixError(400, 'M_INVALID_PARAM', 'Invalid user type');
    // Held to the profile API's limit: a longer name goes into every membership event of the
    // user's, and one over the event size limit would make every join fail with 413.
    const maxName = MAX_PROFILE_FIELD_LENGTH.displayname;
    if (typeof body.displayname === 'string' && body.displayname.length > maxName) {
      throw new MatrixError(400, 'M_BAD_JSON', `displayname is too long (max ${maxName})`);
    }
    if (!(await s.storage.registration.consumeNonce(nonce!, Date.now(), NONCE_LIFETIME_MS))) {
      throw new MatrixError(400, 'M_UNKNOWN', 'unrecognised nonce');
    }
    const expected = Buffer.from(registrationMac(secret, nonce!, username!, password!, admin, userType), 'utf8');
    const given = Buffer.from(mac!, 'utf8');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw forbidden('HMAC incorrect');
    s.accounts.validatePassword(password);
    const localpart = username!.toLowerCase();
    await s.accounts.checkUsernameAvailable(localpart);
    const result = await s.accounts.register({
      localpart,
      password,
      isAdmin: admin,
      userType,
      displayname: typeof body.displayname === 'string' && body.displayname ? body.displayname : undefined,
    });
    return { ...result, home_server: s.config.serverName };
  });
}
