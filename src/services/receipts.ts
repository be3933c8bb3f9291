/**
 * Receipts and read markers (spec: Client-Server API §11.x "Receipts", §11.x "Fully read markers"):
 * m.read, m.read.private (threaded or not) on the receipts stream; m.fully_read as room account data.
 */
import type { Storage } from '../storage/index.js';
import type { StoredEvent } from '../storage/events.js';
import { UNTHREADED, type ReceiptStore } from '../storage/receipts.js';
import type { StreamIdGenerator } from '../streams/id-generator.js';
import type { Notifier } from '../streams/notifier.js';
import type { JsonObject } from '../matrix/types.js';
import { isValidEventId, isValidRoomId } from '../matrix/ids.js';
import { forbidden, invalidParam, notFound } from '../errors.js';
import type { Requester } from './auth.js';
import type { AccountDataService } from './account-data.js';
import type { RoomStateService } from './rooms/room-state.js';

export const READ = 'm.read';
export const READ_PRIVATE = 'm.read.private';
export const FULLY_READ = 'm.fully_read';
/** The receipt types stored on the receipts stream. */
const RECEIPT_TYPES = new Set([READ, READ_PRIVATE]);

export interface LastRead {
  /** The latest read receipt for the main timeline: unthreaded or thread_id "main". */
  main: number;
  /** Per thread root: the latest of that thread's receipt and the unthreaded one. */
  threads: Record<string, number>;
  /** The latest unthreaded receipt alone: it covers threads absent from `threads`. */
  unthreaded: number;
}

export interface ReceiptServiceDeps {
  storage: Storage;
  receipts: ReceiptStore;
  roomState: RoomStateService;
  accountData: AccountDataService;
  positions: StreamIdGenerator;
  notifier: Notifier;
  now: () => number;
}

export class ReceiptService {
  /** Read-marker updates per (user, room) run one after another, so "never backwards" holds. */
  private readonly markerQueues = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: ReceiptServiceDeps) {}

  /** POST /rooms/{roomId}/receipt/{receiptType}/{eventId} */
  async postReceipt(requester: Requester, roomId: string, receiptType: string, eventId: string, body: JsonObject): Promise<void> {
    if (!isValidRoomId(roomId) || !eventId.startsWith('$')) throw invalidParam('A valid room ID and event ID must be specified');
    if (receiptType !== FULLY_READ && !RECEIPT_TYPES.has(receiptType)) {
      throw invalidParam(`Receipt type must be one of ${READ}, ${READ_PRIVATE}, ${FULLY_READ}`);
    }
    let threadId: string | undefined;
    if (body.thread_id !== undefined) {
      // spec: 400 when thread_id is not a string, is empty, or comes with an incompatible receipt type.
      if (typeof body.thread_id !== 'string' || !body.thread_id) throw invalidParam('thread_id field must be a non-empty string');
      if (receiptType === FULLY_READ) throw invalidParam(`thread_id cannot be given for ${FULLY_READ}`);
      // An event ID, not just something starting with '$': one is at most 255 bytes (spec:
      // Appendices "Event IDs"), and a longer thread_id overflows the receipts key (a 500).
      if (body.thread_id !== 'main' && !isValidEventId(body.thread_id)) throw invalidParam("thread_id must be 'main' or an event ID");
      threadId = body.thread_id;
    }
    await this.requireJoined(roomId, requester.userId);
    const event = await this.eventInRoom(roomId, eventId);
    if (threadId !== undefined && threadId !== 'main') {
      // spec: 400 when the event is not related to the thread.
      const root = threadRootOf(event);
      if (root !== undefined && root !== threadId) throw invalidParam(`Event ${eventId} is not in thread ${threadId}`);
    }
    if (receiptType === FULLY_READ) await this.setFullyRead(requester.userId, roomId, event);
    else await this.storeReceipt(requester.userId, roomId, receiptType, event, threadId);
  }

  /** POST /rooms/{roomId}/read_markers */
  async setReadMarkers(requester: Requester, roomId: string, body: JsonObject): Promise<void> {
    if (!isValidRoomId(roomId)) throw invalidParam(`Invalid room ID ${roomId}`);
    await this.requireJoined(roomId, requester.userId);
    const wanted: [string, string][] = [];
    for (const type of [FULLY_READ, READ, READ_PRIVATE]) {
      const id = body[type];
      if (id === undefined || id === null) continue;
      if (typeof id !== 'string' || !id.startsWith('$')) throw invalidParam(`'${type}' must be an event ID`);
      wanted.push([type, id]);
    }
    // Check every event first, so a bad one leaves nothing half-applied.
    const events = await Promise.all(wanted.map(([, id]) => this.eventInRoom(roomId, id)));
    for (let i = 0; i < wanted.length; i++) {
      const type = wanted[i]![0];
      // spec: m.read / m.read.private here equal /receipt/{type}/{eventId} without a thread: unthreaded.
      if (type === FULLY_READ) await this.setFullyRead(requester.userId, roomId, events[i]!);
      else await this.storeReceipt(requester.userId, roomId, type, events[i]!, undefined);
    }
  }

  /**
   * For unread counts: the event position of the user's latest m.read / m.read.private receipt per
   * room. Rooms without one are absent.
   */
  async lastReadStream(userId: string, roomIds: string[]): Promise<Map<string, LastRead>> {
    const rows = await this.deps.receipts.lastRead(userId, roomIds, [READ, READ_PRIVATE]);
    const out = new Map<string, LastRead>();
    const entry = (roomId: string) => {
      let e = out.get(roomId);
      if (!e) out.set(roomId, (e = { main: 0, threads: {}, unthreaded: 0 }));
      return e;
    };
    for (const r of rows) {
      const e = entry(r.roomId);
      const pos = Number(r.streamOrdering);
      if (r.threadId === UNTHREADED) e.unthreaded = Math.max(e.unthreaded, pos);
      else if (r.threadId === 'main') e.main = Math.max(e.main, pos);
      else e.threads[r.threadId] = Math.max(e.threads[r.threadId] ?? 0, pos);
    }
    // An unthreaded receipt marks everything up to its event read, threads included.
    for (const e of out.values()) {
      e.main = Math.max(e.main, e.unthreaded);
      for (const t of Object.keys(e.threads)) e.threads[t] = Math.max(e.threads[t]!, e.unthreaded);
    }
    return out;
  }

  private async requireJoined(roomId: string, userId: string): Promise<void> {
    const { membership } = await this.deps.roomState.membership(roomId, userId);
    if (membership !== 'join') throw forbidden(`User ${userId} is not in room ${roomId}`);
  }

  private async eventInRoom(roomId: string, eventId: string): Promise<StoredEvent> {
    const stored = await this.deps.storage.events.getEvent(eventId);
    if (!stored || stored.event.room_id !== roomId || stored.rejected || stored.outlier) throw notFound(`Event ${eventId} not found in room ${roomId}`);
    return stored;
  }

  private async storeReceipt(userId: string, roomId: string, receiptType: string, event: StoredEvent, threadId: string | undefined): Promise<void> {
    const { positions, receipts, storage, notifier } = this.deps;
    const data: JsonObject = { ts: this.deps.now() };
    if (threadId !== undefined) data.thread_id = threadId;
    const pending = await positions.next();
    let changed = false;
    try {
      changed = await storage.db.transaction((tx) =>
        receipts.upsert(tx, {
          roomId,
          receiptType,
          userId,
          threadId: threadId ?? UNTHREADED,
          eventId: event.event.event_id,
          eventStreamOrdering: event.streamOrdering,
          data,
          streamId: pending.position,
        }),
      );
    } finally {
      pending.done();
    }
    // A receipt for an older event than the stored one is accepted and changes nothing.
    if (!changed) return;
    // userIds lets the unread-count code reset the reader's counts; roomIds wakes the members.
    notifier.notify({ stream: 'receipts', position: pending.position, roomIds: [roomId], userIds: [userId] });
  }

  /** m.fully_read lives in the room's account data and, like receipts, never moves backwards (Synapse). */
  private setFullyRead(userId: string, roomId: string, event: StoredEvent): Promise<void> {
    const key = `${userId}\u0000${roomId}`;
    const run = (this.markerQueues.get(key) ?? Promise.resolve())
      .catch(() => undefined)
      .then(async () => {
        const existing = await this.deps.storage.accountData.get(userId, roomId, FULLY_READ);
        const oldId = existing?.event_id;
        if (typeof oldId === 'string') {
          if (oldId === event.event.event_id) return;
          const old = await this.deps.storage.events.getEvent(oldId);
          if (old && old.event.room_id === roomId && old.streamOrdering > event.streamOrdering) return;
        }
        await this.deps.accountData.write(userId, roomId, FULLY_READ, { event_id: event.event.event_id });
      });
    this.markerQueues.set(key, run);
    void run.finally(() => {
      if (this.markerQueues.get(key) === run) this.markerQueues.delete(key);
    }).catch(() => undefined);
    return run;
  }
}

/** The thread an event belongs to (spec: §11.x "Threading": rel_type m.thread), if any. */
function threadRootOf(stored: StoredEvent): string | undefined {
  const rel = (stored.event.content as JsonObject | undefined)?.['m.relates_to'];
  if (!rel || typeof rel !== 'object' || Array.isArray(rel)) return undefined;
  const r = rel as JsonObject;
  return r.rel_type === 'm.thread' && typeof r.event_id === 'string' ? r.event_id : undefined;
}
