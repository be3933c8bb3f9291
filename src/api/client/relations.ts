/** spec: Client-Server API §11.x "Relationships" (GET /relations) and "Threading" (GET /threads). */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { MatrixError } from '../../errors.js';

function intParam(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new MatrixError(400, 'M_INVALID_PARAM', `${name} must be a non-negative integer`);
  return Number(v);
}

export function registerRelationRoutes(r: ApiRouter, s: Services): void {
  const base = '/_matrix/client/v1/rooms/:roomId/relations/:eventId';
  for (const path of [base, `${base}/:relType`, `${base}/:relType/:eventType`]) {
    r.add('GET', [path], { auth: 'required', allowGuests: true }, ({ requester, params, query }) =>
      s.relations.relations(requester!, params.roomId!, params.eventId!, {
        relType: params.relType,
        eventType: params.eventType,
        from: query.from,
        to: query.to,
        dir: query.dir,
        limit: intParam(query.limit, 'limit'),
        recurse: query.recurse === 'true' || query['org.matrix.msc3981.recurse'] === 'true',
      }),
    );
  }
  r.add('GET', ['/_matrix/client/v1/rooms/:roomId/threads'], { auth: 'required', allowGuests: true }, ({ requester, params, query }) =>
    s.relations.threads(requester!, params.roomId!, { include: query.include, from: query.from, limit: intParam(query.limit, 'limit') }),
  );
}
