/** spec: Client-Server API §6 "Capabilities negotiation" — GET /capabilities. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { ROOM_VERSIONS } from '../../matrix/room-versions.js';

export function registerCapabilityRoutes(r: ApiRouter, s: Services): void {
  r.client('GET', '/capabilities', { auth: 'required', allowGuests: true }, () => {
    const available: Record<string, 'stable' | 'unstable'> = {};
    for (const v of ROOM_VERSIONS.values()) available[v.id] = v.stable ? 'stable' : 'unstable';
    return {
      capabilities: {
        'm.change_password': { enabled: true },
        'm.room_versions': { default: s.config.defaultRoomVersion, available },
        'm.set_displayname': { enabled: true },
        'm.set_avatar_url': { enabled: true },
        'm.3pid_changes': { enabled: false },
        'm.get_login_token': { enabled: false },
        // spec v1.16: custom profile fields
        'm.profile_fields': { enabled: true },
      },
    };
  });
}
