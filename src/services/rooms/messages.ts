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
import { MatrixError, forbidden, notFound } from '../../errors.js';
import type { Requester } from '../auth.js';
import type { EventCreator, TxnRef } from './event-creator.js';

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
    // A retried transaction returns the event it made: appendOne checks under the room's lock,
    // where the answer is authoritative (no query before it).
    const { eventId } = await this.creator.appendOne(roomId, { type, sender: requester.userId, content }, txn);
    return { event_id: eventId };
  }

  /** PUT /rooms/{roomId}/state/{eventType}/{stateKey} */
  async sendState(requester: Requester, roomId: string, type: string, stateKey: string, content: JsonObject): Promise<{ event_id: string }> {
    this.checkRoomId(roomId);
    if (type === 'm.room.canonical_alias') await this.checkCanonicalAlias(roomId, content);
    return this.creator.withRoom(roomId, async (w) => {
      // Setting the same content again is a no-op returning the current event (as Synapse does).
      const current = await w.stateEvent(type, stateKey);
      if (current && current.sender === requester.userId && JSON.stringify(current.content) === JSON.stringify(content)) {
        return { event_id: current.event_id };
      }
      const { event } = await w.append({ type, state_key: stateKey, sender: requester.userId, content });
      return { event_id: event.event_id };
    });
  }

  /** spec: Client-Server API §10.x "m.room.canonical_alias": every alias must point to this room. */
  private async checkCanonicalAlias(roomId: string, content: JsonObject): Promise<void> {
    const aliases: unknown[] = [];
    if (content.alias !== undefined && content.alias !== null) aliases.push(content.alias);
    if (content.alt_aliases !== undefined) {
      if (!Array.isArray(content.alt_aliases)) throw new MatrixError(400, 'M_INVALID_PARAM', 'alt_aliases must be a list');
      aliases.push(...content.alt_aliases);
    }
    for (const alias of aliases) {
      if (typeof alias !== 'string') throw new MatrixError(400, 'M_INVALID_PARAM', 'Aliases must be strings');
      const row = await this.storage.aliases.get(alias);
      if (!row || row.roomId !== roomId) throw new MatrixError(400, 'M_BAD_ALIAS', `Room alias ${alias} does not point to this room`);
    }
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
