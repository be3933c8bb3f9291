/** spec: Client-Server API "Published Room Directory": GET and POST /publicRooms. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { MatrixError } from '../../errors.js';

function parseLimit(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new MatrixError(400, 'M_INVALID_PARAM', 'limit must be a non-negative integer');
  return Number(raw);
}

export function registerPublicRoomRoutes(r: ApiRouter, s: Services): void {
  // The spec lets anyone read the directory; like Synapse (allow_public_rooms_without_auth: false)
  // Veche asks for an access token, so a private server's room list stays private.
  r.client('GET', '/publicRooms', { auth: 'required', allowGuests: true }, ({ query }) =>
    s.rooms.directory.publicRooms({ limit: parseLimit(query.limit), since: query.since || undefined, server: query.server || undefined }),
  );

  r.client('POST', '/publicRooms', { auth: 'required', allowGuests: true, schema: 'queryPublicRooms' }, ({ query, body }) => {
    const filter = (body.filter ?? {}) as { generic_search_term?: string; room_types?: (string | null)[] };
    return s.rooms.directory.publicRooms({
      limit: body.limit as number | undefined,
      since: (body.since as string | undefined) || undefined,
      server: query.server || undefined,
      searchTerm: filter.generic_search_term,
      roomTypes: filter.room_types,
      includeAllNetworks: body.include_all_networks as boolean | undefined,
      thirdPartyInstanceId: body.third_party_instance_id as string | undefined,
    });
  });
}
