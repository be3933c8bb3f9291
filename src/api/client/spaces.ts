/**
 * spec: Client-Server API §"Spaces" (GET /rooms/{roomId}/hierarchy) and §"Room summaries"
 * (GET /room_summary/{roomIdOrAlias}, with the MSC3266 unstable paths Synapse serves and
 * matrix-js-sdk calls).
 */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { MatrixError } from '../../errors.js';

function intParam(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw new MatrixError(400, 'M_INVALID_PARAM', `${name} must be an integer`);
  return Number(v);
}

function boolParam(v: string | undefined, name: string): boolean {
  if (v === undefined) return false;
  if (v !== 'true' && v !== 'false') throw new MatrixError(400, 'M_INVALID_PARAM', `${name} must be true or false`);
  return v === 'true';
}

export function registerSpaceRoutes(r: ApiRouter, s: Services): void {
  r.add('GET', ['/_matrix/client/v1/rooms/:roomId/hierarchy'], { auth: 'required', allowGuests: true }, ({ requester, params, query }) =>
    s.spaces.hierarchy(requester!.userId, params.roomId!, {
      suggestedOnly: boolParam(query.suggested_only, 'suggested_only'),
      maxDepth: intParam(query.max_depth, 'max_depth'),
      limit: intParam(query.limit, 'limit'),
      from: query.from,
    }),
  );

  r.add('GET', ['/_matrix/client/v1/room_summary/:roomIdOrAlias'], { auth: 'optional', allowGuests: true }, ({ requester, params }) =>
    s.spaces.summary(requester?.userId, params.roomIdOrAlias!),
  );
  // MSC3266 as Synapse serves it: the recommended and the deprecated unstable path. Clients of the
  // unstable form may read the prefixed field names of the MSC's first version.
  const unstable = ['/_matrix/client/unstable/im.nheko.summary/summary/:roomIdOrAlias', '/_matrix/client/unstable/im.nheko.summary/rooms/:roomIdOrAlias/summary'];
  r.add('GET', unstable, { auth: 'optional', allowGuests: true }, async ({ requester, params }) => {
    const summary = await s.spaces.summary(requester?.userId, params.roomIdOrAlias!);
    if (summary.room_version !== undefined) summary['im.nheko.summary.room_version'] = summary.room_version;
    if (summary.encryption !== undefined) summary['im.nheko.summary.encryption'] = summary.encryption;
    return summary;
  });
}
