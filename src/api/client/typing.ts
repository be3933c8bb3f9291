/** spec: Client-Server API §11.x "Typing Notifications" — PUT /rooms/{roomId}/typing/{userId}. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';

export function registerTypingRoutes(r: ApiRouter, s: Services): void {
  // spec: guests may send typing notifications (§"Guest access").
  r.client('PUT', '/rooms/:roomId/typing/:userId', { auth: 'required', allowGuests: true, schema: 'setTyping' }, async ({ requester, params, body }) => {
    const timeout = typeof body.timeout === 'number' ? body.timeout : undefined;
    await s.typing.setTyping(requester, params.roomId!, params.userId!, body.typing === true, timeout);
    return {};
  });
}
