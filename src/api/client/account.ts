/** spec: Client-Server API §5.x "Account management" — password change, deactivation, 3PIDs. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';

export function registerAccountRoutes(r: ApiRouter, s: Services): void {
  r.client('POST', '/account/password', { auth: 'required', schema: 'changePassword' }, async ({ req, requester, body }) => {
    await s.uia.authenticate(
      { uri: req.path.replace('/r0/', '/v3/'), method: 'POST', body, userId: requester.userId },
      [['m.login.password']],
    );
    await s.accounts.changePassword(requester.userId, body.new_password as string, body.logout_devices !== false, { deviceId: requester.deviceId, tokenId: requester.tokenId });
    return {};
  });

  r.client('POST', '/account/deactivate', { auth: 'required', schema: 'deactivateAccount' }, async ({ req, requester, body }) => {
    await s.uia.authenticate(
      { uri: req.path.replace('/r0/', '/v3/'), method: 'POST', body, userId: requester.userId },
      [['m.login.password']],
    );
    await s.accounts.deactivate(requester.userId);
    return { id_server_unbind_result: 'no-support' };
  });

  // Third-party identifiers are not offered (m.3pid_changes is off); clients still list them.
  r.client('GET', '/account/3pid', { auth: 'required' }, () => ({ threepids: [] }));
}
