/** spec: Client-Server API §5.x "Account registration" — POST /register and availability checks. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { MatrixError, forbidden } from '../../errors.js';
import type { Stage } from '../../services/uia.js';

export function registerRegistrationRoutes(r: ApiRouter, s: Services): void {
  const { config } = s;

  r.client('POST', '/register', { schema: 'register' }, async ({ req, body, query, ip }) => {
    s.rateLimiters.registration.take(ip);
    const kind = query.kind ?? 'user';
    if (kind !== 'user' && kind !== 'guest') throw new MatrixError(400, 'M_INVALID_PARAM', 'Invalid kind');
    if (kind === 'guest') {
      if (!config.allowGuestAccess) throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access is disabled');
      return s.accounts.register({
        isGuest: true,
        initialDeviceDisplayName: typeof body.initial_device_display_name === 'string' ? body.initial_device_display_name : undefined,
      });
    }
    if (!config.enableRegistration) throw forbidden('Registration has been disabled');

    // Synapse checks the username on every round, so a client learns of a taken name before any
    // auth stage is spent on it.
    if (typeof body.username === 'string') await s.accounts.checkUsernameAvailable(body.username.toLowerCase());
    if (body.password !== undefined) s.accounts.validatePassword(body.password);
    if (typeof body.device_id === 'string') s.accounts.checkDeviceId(body.device_id);

    const flows: Stage[][] = config.registrationRequiresToken ? [['m.login.registration_token']] : [['m.login.dummy']];
    const done = await s.uia.authenticate({ uri: req.path.replace('/r0/', '/v3/'), method: 'POST', body }, flows);
    const params = { ...done.clientdict, ...body };
    s.accounts.validatePassword(params.password);
    const result = await s.accounts.register({
      localpart: typeof params.username === 'string' ? params.username : undefined,
      password: params.password as string,
      deviceId: typeof params.device_id === 'string' ? params.device_id : undefined,
      initialDeviceDisplayName: typeof params.initial_device_display_name === 'string' ? params.initial_device_display_name : undefined,
      inhibitLogin: params.inhibit_login === true,
      refreshable: params.refresh_token === true,
    });
    const token = done.data.registration_token;
    if (typeof token === 'string') await s.storage.db.transaction((tx) => s.storage.registration.completeToken(tx, token));
    return { ...result, home_server: config.serverName };
  });

  r.client('GET', '/register/available', {}, async ({ query, ip }) => {
    s.rateLimiters.registration.take(ip);
    // As Synapse: with registration closed, availability is nobody's business.
    if (!config.enableRegistration) throw forbidden('Registration has been disabled');
    if (!query.username) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing username');
    await s.accounts.checkUsernameAvailable(query.username.toLowerCase());
    return { available: true };
  });

  // spec: Client-Server API §5.x "Token-authenticated registration"
  r.add('GET', ['/_matrix/client/v1/register/m.login.registration_token/validity'], {}, async ({ query, ip }) => {
    s.rateLimiters.registration.take(ip);
    if (!query.token) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing token');
    const t = await s.storage.registration.getToken(query.token);
    const now = Date.now();
    const valid = !!t && (t.expiryTime === null || t.expiryTime > now) && (t.usesAllowed === null || t.pending + t.completed < t.usesAllowed);
    return { valid };
  });
}
