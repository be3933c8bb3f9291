/** spec: Client-Server API §10.x "Room aliases" and the room directory visibility flag. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';

export function registerDirectoryRoutes(r: ApiRouter, s: Services): void {
  r.client('GET', '/directory/room/:roomAlias', { auth: 'optional', allowGuests: true }, ({ params }) => s.rooms.aliases.resolve(params.roomAlias!));
  r.client('PUT', '/directory/room/:roomAlias', { auth: 'required', schema: 'setRoomAlias' }, async ({ requester, params, body }) => {
    await s.rooms.aliases.create(requester, params.roomAlias!, body.room_id as string);
    return {};
  });
  r.client('DELETE', '/directory/room/:roomAlias', { auth: 'required' }, async ({ requester, params }) => {
    await s.rooms.aliases.delete(requester, params.roomAlias!);
    return {};
  });
}
