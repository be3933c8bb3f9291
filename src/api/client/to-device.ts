/** spec: Client-Server API §11.x "Send-to-Device messaging" — PUT /sendToDevice/{eventType}/{txnId}. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';

export function registerToDeviceRoutes(r: ApiRouter, s: Services): void {
  r.client('PUT', '/sendToDevice/:eventType/:txnId', { auth: 'required', allowGuests: true, schema: 'sendToDevice' }, async ({ requester, params, body }) => {
    await s.toDevice.send(requester, params.eventType!, params.txnId!, body.messages);
    return {};
  });
}
