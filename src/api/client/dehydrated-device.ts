/**
 * MSC3814 dehydrated devices, at Synapse's paths. Synapse advertises no unstable_features flag for
 * it: clients (matrix-js-sdk's DehydratedDeviceManager) detect support by GET dehydrated_device
 * answering 404 M_NOT_FOUND rather than M_UNRECOGNIZED.
 */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { compileSchema } from '../http/validate.js';

const PREFIX = '/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device';

const putSchema = compileSchema({
  type: 'object',
  properties: {
    device_id: { type: 'string' },
    device_data: { type: 'object', properties: { algorithm: { type: 'string' } }, required: ['algorithm'] },
    initial_device_display_name: { type: ['string', 'null'] },
    device_keys: { type: 'object' },
    one_time_keys: { type: 'object' },
    fallback_keys: { type: 'object' },
  },
  required: ['device_id', 'device_data'],
});
const eventsSchema = compileSchema({ type: 'object', properties: { next_batch: { type: ['string', 'null'] } } });

export function registerDehydratedDeviceRoutes(r: ApiRouter, s: Services): void {
  const dehydrated = s.e2ee.dehydrated;
  r.add('GET', [PREFIX], { auth: 'required' }, ({ requester }) => dehydrated.get(requester!.userId));
  r.add('PUT', [PREFIX], { auth: 'required', validator: putSchema, bodyLimit: 1024 * 1024 }, ({ requester, body }) => dehydrated.put(requester!.userId, body));
  r.add('DELETE', [PREFIX], { auth: 'required' }, ({ requester }) => dehydrated.delete(requester!.userId));
  r.add('POST', [`${PREFIX}/:deviceId/events`], { auth: 'required', validator: eventsSchema }, ({ requester, params, body }) =>
    dehydrated.events(requester!.userId, params.deviceId!, (body.next_batch as string | null | undefined) ?? undefined),
  );
  // matrix-js-sdk's form: GET with ?from=<next_batch>, until next_batch is absent.
  r.add('GET', [`${PREFIX}/:deviceId/events`], { auth: 'required' }, ({ requester, params, query }) =>
    dehydrated.events(requester!.userId, params.deviceId!, query.from ?? query.next_batch, true),
  );
}
