/**
 * spec: Client-Server API "Room aliases" (/directory/room, /rooms/{roomId}/aliases) and the
 * published room directory's visibility flag (/directory/list/room).
 */
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

  r.client('GET', '/rooms/:roomId/aliases', { auth: 'required' }, ({ requester, params }) => s.rooms.aliases.localAliases(requester, params.roomId!));

  r.client('GET', '/directory/list/room/:roomId', { auth: 'none' }, ({ params }) => s.rooms.directory.visibility(params.roomId!));
  r.client('PUT', '/directory/list/room/:roomId', { auth: 'required', schema: 'setRoomVisibilityOnDirectory' }, async ({ requester, params, body }) => {
    // spec: visibility defaults to public.
    await s.rooms.directory.setVisibility(requester, params.roomId!, body.visibility === 'private' ? 'private' : 'public');
    return {};
  });
}
