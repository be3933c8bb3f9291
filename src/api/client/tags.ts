/** spec: Client-Server API §"Room Tagging" — GET/PUT/DELETE /user/{userId}/rooms/{roomId}/tags. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';

export function registerTagRoutes(r: ApiRouter, s: Services): void {
  const list = '/user/:userId/rooms/:roomId/tags';
  const one = `${list}/:tag`;
  // Synapse also answers under /unstable, where older clients still call.
  const paths = (p: string) => [`/_matrix/client/v3${p}`, `/_matrix/client/r0${p}`, `/_matrix/client/unstable${p}`];
  r.add('GET', paths(list), { auth: 'required', allowGuests: true }, ({ requester, params }) =>
    s.tags.list(requester!, params.userId!, params.roomId!),
  );
  r.add('PUT', paths(one), { auth: 'required', allowGuests: true, schema: 'setRoomTag' }, async ({ requester, params, body }) => {
    await s.tags.add(requester!, params.userId!, params.roomId!, params.tag!, body);
    return {};
  });
  r.add('DELETE', paths(one), { auth: 'required', allowGuests: true }, async ({ requester, params }) => {
    await s.tags.remove(requester!, params.userId!, params.roomId!, params.tag!);
    return {};
  });
}
