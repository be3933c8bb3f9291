/** MSC4140 delayed events, at Synapse's unstable paths (see shared/spec/synapse-unstable.md). */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { MatrixError } from '../../errors.js';

const BASE = '/_matrix/client/unstable/org.matrix.msc4140/delayed_events';

export function registerDelayedEventRoutes(r: ApiRouter, s: Services): void {
  r.add('GET', [BASE], { auth: 'required' }, ({ requester }) => s.delayedEvents.list(requester!));
  // Synapse lets these through without a token: the delay ID is the secret.
  r.add('POST', [`${BASE}/:delayId`], { auth: 'optional' }, async ({ params, body }) => {
    if (typeof body.action !== 'string') throw new MatrixError(400, 'M_MISSING_PARAM', "Missing 'action'");
    await s.delayedEvents.act(params.delayId!, body.action);
    return {};
  });
  for (const action of ['cancel', 'restart', 'send']) {
    r.add('POST', [`${BASE}/:delayId/${action}`], { auth: 'optional' }, async ({ params }) => {
      await s.delayedEvents.act(params.delayId!, action);
      return {};
    });
  }
}

/** The `org.matrix.msc4140.delay` query parameter of PUT /send and PUT /state, in ms. */
export function delayParam(query: Record<string, string | undefined>): number | undefined {
  const raw = query['org.matrix.msc4140.delay'];
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new MatrixError(400, 'M_INVALID_PARAM', 'org.matrix.msc4140.delay must be a non-negative integer');
  return Number(raw);
}
