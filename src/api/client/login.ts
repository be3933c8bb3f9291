/** spec: Client-Server API §4.4 "Login" — login, refresh, logout, whoami. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { MatrixError } from '../../errors.js';
import type { JsonObject } from '../../matrix/types.js';

export function registerLoginRoutes(r: ApiRouter, s: Services): void {
  r.client('GET', '/login', {}, () => ({ flows: [{ type: 'm.login.password' }] }));

  r.client('POST', '/login', { schema: 'login' }, async ({ body, ip }) => {
    s.rateLimiters.login.take(ip);
    if (body.type !== 'm.login.password') {
      throw new MatrixError(400, 'M_UNKNOWN', `Unknown login type ${String(body.type)}`);
    }
    const identifier = body.identifier as JsonObject | undefined;
    if (identifier && identifier.type !== 'm.id.user') {
      throw new MatrixError(400, 'M_UNKNOWN', `Unknown identifier type ${String(identifier.type)}`);
    }
    const userId = s.uia.identifierToUserId(body);
    if (!userId) throw new MatrixError(400, 'M_BAD_JSON', "Missing 'identifier.user'");
    if (typeof body.password !== 'string') throw new MatrixError(400, 'M_BAD_JSON', "Missing 'password'");
    s.rateLimiters.loginAccount.take(userId.toLowerCase());
    const failureKey = `fail:${userId.toLowerCase()}`;
    // Too many wrong passwords lock the account's logins for a while (Synapse's rc_login.failed_attempts).
    s.rateLimiters.loginFailures.check(failureKey);
    let canonical: string;
    try {
      canonical = await s.accounts.checkPassword(userId, body.password);
    } catch (err) {
      if (err instanceof MatrixError && err.errcode === 'M_FORBIDDEN') s.rateLimiters.loginFailures.tryTake(failureKey);
      throw err;
    }
    return s.accounts.login(canonical, {
      deviceId: typeof body.device_id === 'string' ? body.device_id : undefined,
      initialDeviceDisplayName: typeof body.initial_device_display_name === 'string' ? body.initial_device_display_name : undefined,
      refreshable: body.refresh_token === true,
    });
  });

  r.client('POST', '/refresh', { schema: 'refresh' }, ({ body }) => s.auth.refresh(body.refresh_token as string));

  r.client('POST', '/logout', { auth: 'required', allowGuests: true }, async ({ requester }) => {
    if (requester.deviceId) await s.devices.deleteDevices(requester.userId, [requester.deviceId]);
    else await s.storage.db.transaction((tx) => s.storage.devices.deleteAccessToken(tx, requester.tokenId));
    s.auth.invalidate([requester.tokenHash]);
    return {};
  });

  r.client('POST', '/logout/all', { auth: 'required', allowGuests: true }, async ({ requester }) => {
    const deleted = await s.storage.db.transaction(async (tx) => {
      const d = await s.devices.deleteDevicesInTx(tx, requester.userId, null, null);
      await s.storage.devices.deleteAccessTokensForUser(tx, requester.userId);
      return d;
    });
    s.devices.afterDeletion(requester.userId, deleted);
    s.auth.invalidateUser(requester.userId);
    return {};
  });

  r.client('GET', '/account/whoami', { auth: 'required', allowGuests: true }, ({ requester }) => {
    const out: Record<string, unknown> = { user_id: requester.userId, is_guest: requester.isGuest };
    if (requester.deviceId) out.device_id = requester.deviceId;
    return out;
  });
}
