/**
 * Sending into rooms: messages (PUT /send), state (PUT /state) and redactions, with the
 * per-device transaction-ID idempotency of spec: Client-Server API §7.x "Transaction identifiers".
 */
import type { Storage } from '../../storage/index.js';
import type { JsonObject } from '../../matrix/types.js';
import { isValidRoomId } from '../../matrix/ids.js';
import { getRoomVersion } from '../../matrix/room-versions.js';
import { powerLevelsFromState, levelOfUser, userPowerLevel } from '../../matrix/power-levels.js';
import { stateKeyOf } from '../../matrix/types.js';
import { canonicallyEqual } from '../../matrix/canonical-json.js';
import { MatrixError, forbidden, notFound } from '../../errors.js';
import { refuseIfSuspended, type Requester } from '../auth.js';
import type { EventCreator, RoomWriter, TxnRef } from './event-creator.js';
import { checkCanonicalAliasContent } from './aliases.js';
import { checkNotAnnotatedYet, checkRelation, relationOf } from './relation-checks.js';

/**
 * Events no one may redact through this server, whatever their power (as Synapse refuses them):
 * the create event holds the room's identity, and a redacted server ACL would open the room to
 * every server.
 */
const UNREDACTABLE_TYPES = new Set(['m.room.create', 'm.room.server_acl']);

export class MessageService {
  constructor(
    private readonly storage: Storage,
    private readonly creator: EventCreator,
  ) {}

  /** spec: Client-Server API "Transaction identifiers": scoped to the device and the request path. */
  private txnRef(requester: Requester, scope: string[], txnId: string | undefined): TxnRef | undefined {
    if (!txnId) return undefined;
    // Tokens without a device (appservices) scope transactions by token instead.
    return { userId: requester.userId, deviceId: requester.deviceId ?? `token:${requester.tokenId}`, scope, txnId };
  }

  private checkRoomId(roomId: string): void {
    if (!isValidRoomId(roomId)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid room ID ${roomId}`);
  }

  /** PUT /rooms/{roomId}/send/{eventType}/{txnId} */
  async send(requester: Requester, roomId: string, type: string, content: JsonObject, txnId?: string): Promise<{ event_id: string }> {
    this.checkRoomId(roomId);
    const txn = this.txnRef(requester, ['send', roomId, type], txnId);
    if (type === 'm.room.redaction') {
      const redacts = content.redacts;
      if (typeof redacts !== 'string') throw new MatrixError(400, 'M_BAD_JSON', 'm.room.redaction needs content.redacts');
      return this.redactWithTxn(requester, roomId, redacts, content, txn);
    }
    refuseIfSuspended(requester, 'send messages');
    const relation = relationOf(content);
    if (relation) await checkRelation(this.storage, roomId, relation);
    // A retried transaction returns the event it made: appendOne checks under the room's lock,
    // where the answer is authoritative (no query before it). So does a duplicate reaction.
    const check = relation?.relType === 'm.annotation'
      ? async (w: RoomWriter) => {
          // A retried transaction is answered with its event, not refused as its own duplicate.
          if (txn && (await this.storage.events.txnEventId(txn.userId, txn.deviceId, txn.scope, txn.txnId, w.tx))) return;
          await checkNotAnnotatedYet(this.storage, requester.userId, type, relation);
        }
      : undefined;
    const { eventId } = await this.creator.appendOne(roomId, { type, sender: requester.userId, content }, txn, check);
    return { event_id: eventId };
  }

  /** PUT /rooms/{roomId}/state/{eventType}/{stateKey} */
  async sendState(requester: Requester, roomId: string, type: string, stateKey: string, content: JsonObject): Promise<{ event_id: string }> {
    this.checkRoomId(roomId);
    refuseIfSuspended(requester, 'send state events');
    return this.creator.withRoom(roomId, async (w) => {
      const current = await w.stateEvent(type, stateKey);
      // Setting the same content again is a no-op returning the current event (as Synapse does).
      // Content that is not canonical JSON is never the same: w.append refuses it as M_BAD_JSON.
      if (current && current.sender === requester.userId && canonicallyEqual(current.content, content)) {
        return { event_id: current.event_id };
      }
      // spec: m.room.canonical_alias: new aliases must be valid and point to this room; checked as
      // the room's writer, against the content this event replaces.
      if (type === 'm.room.canonical_alias' && stateKey === '') await checkCanonicalAliasContent(this.storage, roomId, content, current?.content);
      const { event } = await w.append({ type, state_key: stateKey, sender: requester.userId, content });
      return { event_id: event.event_id };
    });
  }

  /** PUT /rooms/{roomId}/redact/{eventId}/{txnId} */
  async redact(requester: Requester, roomId: string, eventId: string, content: JsonObject, txnId?: string): Promise<{ event_id: string }> {
    this.checkRoomId(roomId);
    // A retried transaction returns its redaction: appendOne checks under the room's lock.
    const txn = this.txnRef(requester, ['redact', roomId, eventId], txnId);
    return this.redactWithTxn(requester, roomId, eventId, content, txn);
  }

  private async redactWithTxn(requester: Requester, roomId: string, eventId: string, content: JsonObject, txn: TxnRef | undefined): Promise<{ event_id: string }> {
    const target = await this.storage.events.getEvent(eventId);
    if (!target || target.event.room_id !== roomId) throw notFound('Event not found');
    if (target.event.sender !== requester.userId) refuseIfSuspended(requester, "redact other users' events");
    if (UNREDACTABLE_TYPES.has(target.event.type) && target.event.state_key === '') {
      throw forbidden(`Redacting ${target.event.type} events is not permitted`);
    }
    const body: JsonObject = { ...content };
    delete body.redacts;
    // spec: Room Version 11 moved redacts into content.
    if (getRoomVersion(target.roomVersion)?.updatedRedactionRules) body.redacts = eventId;
    const draft = { type: 'm.room.redaction', sender: requester.userId, content: body, redacts: eventId };
    const { eventId: made } = await this.creator.appendOne(roomId, draft, txn, async (w) => {
      // spec: Room Versions 3+ leave the "own event or redact power" check to the server that
      // serves the event; Veche applies it when the redaction is made, as Synapse does.
      if (target.event.sender !== requester.userId) {
        const state = await w.stateEvents([stateKeyOf('m.room.create', ''), stateKeyOf('m.room.power_levels', '')]);
        const levels = powerLevelsFromState(state, w.version);
        const level = w.version.privilegedCreators ? userPowerLevel(requester.userId, state, w.version) : levelOfUser(levels, requester.userId);
        if (level < levels.redact) throw forbidden('You do not have permission to redact events of other users');
      }
    });
    return { event_id: made };
  }
}
