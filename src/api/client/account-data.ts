/** spec: Client-Server API §10.x "Client Config" — account data, global and per room. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { invalidParam } from '../../errors.js';
import { isValidRoomId } from '../../matrix/ids.js';

/** spec: the per-room endpoints answer 400 M_INVALID_PARAM when roomId is not a room ID. */
function roomIdParam(roomId: string): string {
  if (!isValidRoomId(roomId)) throw invalidParam(`'${roomId}' is not a valid room ID`);
  return roomId;
}

export function registerAccountDataRoutes(r: ApiRouter, s: Services): void {
  r.client('GET', '/user/:userId/account_data/:type', { auth: 'required', allowGuests: true }, ({ requester, params }) =>
    s.accountData.get(requester, params.userId!, '', params.type!),
  );
  r.client('PUT', '/user/:userId/account_data/:type', { auth: 'required', allowGuests: true, schema: 'setAccountData' }, async ({ requester, params, body }) => {
    await s.accountData.put(requester, params.userId!, '', params.type!, body);
    return {};
  });
  r.client('GET', '/user/:userId/rooms/:roomId/account_data/:type', { auth: 'required', allowGuests: true }, ({ requester, params }) =>
    s.accountData.get(requester, params.userId!, roomIdParam(params.roomId!), params.type!),
  );
  r.client(
    'PUT',
    '/user/:userId/rooms/:roomId/account_data/:type',
    { auth: 'required', allowGuests: true, schema: 'setAccountDataPerRoom' },
    async ({ requester, params, body }) => {
      await s.accountData.put(requester, params.userId!, roomIdParam(params.roomId!), params.type!, body);
      return {};
    },
  );
}
