/** spec: Client-Server API "Room Upgrades": POST /rooms/{roomId}/upgrade. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';

export function registerRoomUpgradeRoutes(r: ApiRouter, s: Services): void {
  r.client('POST', '/rooms/:roomId/upgrade', { auth: 'required', schema: 'upgradeRoom' }, ({ requester, params, body }) =>
    s.rooms.upgrade.upgrade(requester, params.roomId!, {
      newVersion: body.new_version as string,
      additionalCreators: body.additional_creators as string[] | undefined,
    }),
  );
}
