/**
 * Scheduled messages (MSC4140 delayed events, as Synapse serves them): an event is stored with a
 * delay and sent as its author when the delay runs out, unless cancelled or restarted first.
 * Schedules live in Postgres, so they survive a restart; one timer wakes for the earliest.
 */
import { randomBytes } from 'node:crypto';
import type { Storage } from '../storage/index.js';
import type { DelayedEventStore, DelayedEventRow } from '../storage/delayed-events.js';
import type { JsonObject } from '../matrix/types.js';
import type { Requester } from './auth.js';
import type { MessageService } from './rooms/messages.js';
import type { RoomStateService } from './rooms/room-state.js';
import { MatrixError, forbidden, notFound } from '../errors.js';
import { getLogger } from '../logging.js';
import { canonicalJson, CanonicalJsonError } from '../matrix/canonical-json.js';
import { checkPduLimits, MAX_PDU_BYTES } from '../matrix/pdu.js';

const log = getLogger('delayed-events');
/** Synapse's experimental_features.msc4140_max_delayed_events_per_user default. */
const MAX_PER_USER = 100;

/** An event ID of room versions 4+ ('$' and 43 characters), standing in for the references a sent event gets. */
const SOME_EVENT_ID = `$${'x'.repeat(43)}`;

/**
 * Refuses now what the send would refuse when the delay runs out, with the same errors: the
 * client hears of it, instead of a delay_id for an event that is dropped unsent. Content must be
 * canonical JSON to be signed (spec: Appendices "Canonical JSON"); the event and its IDs must fit
 * spec: Client-Server API "Size limits", measured with stand-ins for the fields the server adds
 * (a room's prev_events can make the sent event a little larger still).
 */
function checkSendable(sender: string, roomId: string, type: string, stateKey: string | undefined, content: JsonObject): void {
  try {
    canonicalJson(content);
  } catch (err) {
    if (err instanceof CanonicalJsonError) throw new MatrixError(400, 'M_BAD_JSON', err.message);
    throw err;
  }
  const draft: JsonObject = {
    type,
    sender,
    room_id: roomId,
    content,
    origin_server_ts: 0,
    depth: 0,
    prev_events: [SOME_EVENT_ID],
    auth_events: [SOME_EVENT_ID, SOME_EVENT_ID, SOME_EVENT_ID, SOME_EVENT_ID],
    hashes: { sha256: 'x'.repeat(43) },
    signatures: { [sender.slice(sender.indexOf(':') + 1)]: { 'ed25519:a_xxxx': 'x'.repeat(86) } },
  };
  if (stateKey !== undefined) draft.state_key = stateKey;
  const tooLarge = checkPduLimits(draft);
  if (tooLarge) throw new MatrixError(413, 'M_TOO_LARGE', `Event is too large: ${tooLarge} (max ${MAX_PDU_BYTES} bytes in all)`);
}

export class DelayedEventService {
  private timer?: NodeJS.Timeout;
  private closed = false;
  private firing = false;

  constructor(
    private readonly storage: Storage,
    private readonly store: DelayedEventStore,
    private readonly messages: MessageService,
    private readonly roomState: RoomStateService,
    /** ms; undefined: the feature is off (config max_event_delay_duration). */
    readonly maxDelay: number | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.maxDelay !== undefined && this.maxDelay > 0;
  }

  async start(): Promise<void> {
    await this.reschedule();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  async schedule(requester: Requester, roomId: string, type: string, stateKey: string | undefined, content: JsonObject, delay: number): Promise<{ delay_id: string }> {
    if (!this.enabled) throw forbidden('Delayed events are not enabled on this server');
    if (!Number.isSafeInteger(delay) || delay < 0) throw new MatrixError(400, 'M_INVALID_PARAM', 'The delay must be a non-negative integer of milliseconds');
    if (delay > this.maxDelay!) {
      throw new MatrixError(400, 'M_MAX_DELAY_EXCEEDED', `The requested delay exceeds the allowed maximum of ${this.maxDelay} ms`, { 'org.matrix.msc4140.errcode': 'M_MAX_DELAY_EXCEEDED', max_delay: this.maxDelay });
    }
    checkSendable(requester.userId, roomId, type, stateKey, content);
    // The author must be able to send into the room now; the auth rules decide again when it fires.
    if ((await this.roomState.membership(roomId, requester.userId)).membership !== 'join') throw forbidden('You are not in this room');
    if ((await this.store.countForUser(requester.userId)) >= MAX_PER_USER) {
      throw new MatrixError(400, 'M_LIMIT_EXCEEDED', `At most ${MAX_PER_USER} delayed events may be pending`);
    }
    const delayId = `syd_${randomBytes(15).toString('base64url')}`;
    await this.store.insert({
      delayId,
      userId: requester.userId,
      deviceId: requester.deviceId,
      roomId,
      eventType: type,
      stateKey: stateKey ?? null,
      content,
      delayMs: delay,
      runningSince: this.now(),
    });
    await this.reschedule();
    return { delay_id: delayId };
  }

  async list(requester: Requester): Promise<JsonObject> {
    const rows = await this.store.listForUser(requester.userId);
    return {
      delayed_events: rows.map((r) => {
        const out: JsonObject = { delay_id: r.delayId, room_id: r.roomId, type: r.eventType, delay: Number(r.delayMs), running_since: Number(r.runningSince), content: r.content };
        if (r.stateKey !== null) out.state_key = r.stateKey;
        return out;
      }),
    };
  }

  /** cancel / restart / send. Knowing the delay ID is the authority (as in Synapse). */
  async act(delayId: string, action: string): Promise<void> {
    if (action !== 'cancel' && action !== 'restart' && action !== 'send') throw new MatrixError(400, 'M_INVALID_PARAM', 'action must be cancel, restart or send');
    if (action === 'restart') {
      if (!(await this.store.restart(delayId, this.now()))) throw notFound('No delayed event with this ID');
    } else {
      const row = await this.store.take(delayId);
      if (!row) throw notFound('No delayed event with this ID');
      if (action === 'send') await this.fire(row);
    }
    await this.reschedule();
  }

  /** A state event was sent: others' pending delayed events for that state are void (MSC4140). */
  async stateSent(roomId: string, type: string, stateKey: string, sender: string): Promise<void> {
    if (this.enabled && (await this.store.cancelForState(roomId, type, stateKey, sender))) await this.reschedule();
  }

  private async fire(row: DelayedEventRow): Promise<void> {
    const requester: Requester = {
      userId: row.userId,
      deviceId: row.deviceId,
      tokenId: 0,
      isGuest: false,
      isAdmin: false,
      shadowBanned: false,
      suspended: false,
      tokenHash: Buffer.alloc(0),
    };
    try {
      if (row.stateKey !== null) await this.messages.sendState(requester, row.roomId, row.eventType, row.stateKey, row.content);
      else await this.messages.send(requester, row.roomId, row.eventType, row.content);
    } catch (err) {
      // The author may have left or lost power meanwhile: the event is dropped, as Synapse does.
      log.info('delayed event refused when sent', { delay_id: row.delayId, error: (err as Error).message });
    }
  }

  private async reschedule(): Promise<void> {
    if (this.closed || !this.enabled) return;
    const due = await this.store.nextDue();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (due === undefined) return;
    // setTimeout holds at most ~24.8 days; a later wake-up just reschedules.
    const wait = Math.min(Math.max(0, due - this.now()), 2 ** 31 - 1);
    this.timer = setTimeout(() => void this.fireDue(), wait);
    this.timer.unref();
  }

  private async fireDue(): Promise<void> {
    if (this.closed || this.firing) return;
    this.firing = true;
    try {
      for (const id of await this.store.dueIds(this.now())) {
        const row = await this.store.take(id);
        if (row) await this.fire(row);
      }
    } catch (err) {
      log.warn('sending delayed events failed', { error: (err as Error).message });
    } finally {
      this.firing = false;
    }
    await this.reschedule();
  }
}
