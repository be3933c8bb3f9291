/** spec: Client-Server API "Push Notifications": GET /pushers, POST /pushers/set. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';

export function registerPusherRoutes(r: ApiRouter, s: Services): void {
  r.client('GET', '/pushers', { auth: 'required' }, async ({ requester }) => ({ pushers: await s.pushers.list(requester.userId) }));
  r.client('POST', '/pushers/set', { auth: 'required', schema: 'postPusher' }, async ({ requester, body }) => {
    await s.pushers.set(requester, body);
    return {};
  });
}
