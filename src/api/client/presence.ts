/** spec: Client-Server API §11.x "Presence" — GET/PUT /presence/{userId}/status. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import type { PresenceStateName } from '../../storage/presence.js';

export function registerPresenceRoutes(r: ApiRouter, s: Services): void {
  r.client('GET', '/presence/:userId/status', { auth: 'required', allowGuests: true }, ({ requester, params }) =>
    s.presence.get(requester, params.userId!),
  );
  r.client('PUT', '/presence/:userId/status', { auth: 'required', allowGuests: true, schema: 'setPresence' }, async ({ requester, params, body }) => {
    await s.presence.set(requester, params.userId!, body.presence as PresenceStateName, typeof body.status_msg === 'string' ? body.status_msg : undefined);
    return {};
  });
}
