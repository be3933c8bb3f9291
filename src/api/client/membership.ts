/** spec: Client-Server API §10.x "Room membership". */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import type { MembershipAction } from '../../services/rooms/membership.js';

function reasonOf(body: Record<string, unknown>): string | undefined {
  return typeof body.reason === 'string' ? body.reason : undefined;
}

export function registerMembershipRoutes(r: ApiRouter, s: Services): void {
  const m = () => s.rooms.membership;

  r.client('POST', '/join/:roomIdOrAlias', { auth: 'required', allowGuests: true, schema: 'joinRoom' }, async ({ requester, params, body }) => ({
    room_id: await m().join(requester, params.roomIdOrAlias!, reasonOf(body)),
  }));
  r.client('POST', '/rooms/:roomId/join', { auth: 'required', allowGuests: true, schema: 'joinRoomById' }, async ({ requester, params, body }) => ({
    room_id: await m().join(requester, params.roomId!, reasonOf(body)),
  }));
  r.client('POST', '/knock/:roomIdOrAlias', { auth: 'required', schema: 'knockRoom' }, async ({ requester, params, body }) => ({
    room_id: await m().knock(requester, params.roomIdOrAlias!, reasonOf(body)),
  }));
  r.client('POST', '/rooms/:roomId/leave', { auth: 'required', allowGuests: true, schema: 'leaveRoom' }, async ({ requester, params, body }) => {
    await m().change(requester, params.roomId!, 'leave', requester.userId, reasonOf(body));
    return {};
  });
  r.client('POST', '/rooms/:roomId/forget', { auth: 'required', allowGuests: true }, async ({ requester, params }) => {
    await m().forget(requester, params.roomId!);
    return {};
  });

  const targeted: [string, MembershipAction, string][] = [
    ['invite', 'invite', 'inviteUser'],
    ['kick', 'kick', 'kick'],
    ['ban', 'ban', 'ban'],
    ['unban', 'unban', 'unban'],
  ];
  for (const [path, action, schema] of targeted) {
    r.client('POST', `/rooms/:roomId/${path}`, { auth: 'required', schema }, async ({ requester, params, body }) => {
      await m().change(requester, params.roomId!, action, body.user_id as string, reasonOf(body));
      return {};
    });
  }

  r.client('GET', '/joined_rooms', { auth: 'required', allowGuests: true }, async ({ requester }) => ({
    joined_rooms: await m().joinedRooms(requester.userId),
  }));
}
