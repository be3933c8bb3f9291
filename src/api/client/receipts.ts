/**
 * spec: Client-Server API §11.x "Receipts" (POST /rooms/{roomId}/receipt/{receiptType}/{eventId})
 * and §11.x "Fully read markers" (POST /rooms/{roomId}/read_markers).
 */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';

export function registerReceiptRoutes(r: ApiRouter, s: Services): void {
  // spec: guests may send receipts and read markers (§"Guest access").
  r.client(
    'POST',
    '/rooms/:roomId/receipt/:receiptType/:eventId',
    // No body schema: a bad thread_id is the spec's 400 M_INVALID_PARAM, checked by the service.
    { auth: 'required', allowGuests: true },
    async ({ requester, params, body }) => {
      await s.receipts.postReceipt(requester, params.roomId!, params.receiptType!, params.eventId!, body);
      return {};
    },
  );
  r.client('POST', '/rooms/:roomId/read_markers', { auth: 'required', allowGuests: true, schema: 'setReadMarker' }, async ({ requester, params, body }) => {
    await s.receipts.setReadMarkers(requester, params.roomId!, body);
    return {};
  });
}
