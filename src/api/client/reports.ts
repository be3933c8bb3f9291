/** spec: Client-Server API "Reporting content": reports of events and rooms. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';

export function registerReportRoutes(r: ApiRouter, s: Services): void {
  r.client('POST', '/rooms/:roomId/report/:eventId', { auth: 'required', schema: 'reportEvent' }, async ({ requester, params, body }) => {
    await s.rooms.reports.reportEvent(requester, params.roomId!, params.eventId!, body);
    return {};
  });
  r.client('POST', '/rooms/:roomId/report', { auth: 'required', schema: 'reportRoom' }, async ({ requester, params, body }) => {
    await s.rooms.reports.reportRoom(requester, params.roomId!, body);
    return {};
  });
}
