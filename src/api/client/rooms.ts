/** spec: Client-Server API §10.x "Rooms": creation, sending events, setting state, redaction. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { MatrixError } from '../../errors.js';
import { delayParam } from './delayed-events.js';

export function registerRoomRoutes(r: ApiRouter, s: Services): void {
  r.client('POST', '/createRoom', { auth: 'required', schema: 'createRoom' }, ({ requester, body }) =>
    s.rooms.create.createRoom(requester, body),
  );

  r.client(
    'PUT',
    '/rooms/:roomId/send/:eventType/:txnId',
    { auth: 'required', allowGuests: true, schema: 'sendMessage', rateLimit: s.rateLimiters.message, bodyLimit: 128 * 1024 },
    ({ requester, params, body, query }) => {
      // MSC4140: with a delay the event is scheduled and the answer is its delay_id.
      const delay = delayParam(query);
      if (delay !== undefined) return s.delayedEvents.schedule(requester, params.roomId!, params.eventType!, undefined, body, delay);
      return s.rooms.messages.send(requester, params.roomId!, params.eventType!, body, params.txnId!);
    },
  );

  const putState = r.client.bind(r);
  for (const path of ['/rooms/:roomId/state/:eventType', '/rooms/:roomId/state/:eventType/:stateKey']) {
    putState('PUT', path, { auth: 'required', schema: 'setRoomStateWithKey', bodyLimit: 128 * 1024 }, async ({ requester, params, body, query }) => {
      if (params.eventType === 'm.room.member') {
        // Membership has its own endpoints and rules; the state API would bypass them. A
        // membership that is not a string is a malformed body (400, as Synapse answers), not
        // something for the auth rules to refuse.
        if (typeof body.membership !== 'string') throw new MatrixError(400, 'M_BAD_JSON', 'm.room.member needs a membership string');
      }
      const delay = delayParam(query);
      if (delay !== undefined) return s.delayedEvents.schedule(requester, params.roomId!, params.eventType!, params.stateKey ?? '', body, delay);
      return s.rooms.messages.sendState(requester, params.roomId!, params.eventType!, params.stateKey ?? '', body);
    });
  }

  r.client(
    'PUT',
    '/rooms/:roomId/redact/:eventId/:txnId',
    { auth: 'required', schema: 'redactEvent', rateLimit: s.rateLimiters.message },
    ({ requester, params, body }) => s.rooms.messages.redact(requester, params.roomId!, params.eventId!, body, params.txnId!),
  );
  // The legacy form without a transaction ID.
  r.client('POST', '/rooms/:roomId/redact/:eventId', { auth: 'required', schema: 'redactEvent' }, ({ requester, params, body }) =>
    s.rooms.messages.redact(requester, params.roomId!, params.eventId!, body),
  );
}
