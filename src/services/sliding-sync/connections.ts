/**
 * Per-connection memory of sliding sync (MSC4186 "Connections"): what each room was last sent
 * with. The state for the previous `pos` is kept too, because a client may retry with it. Held in
 * memory: after a restart the client gets M_UNKNOWN_POS and starts the connection again.
 */
import type { StateRule } from './request.js';

export interface RoomSent {
  /** Events up to this stream position were sent. */
  stream: number;
  /** The user's membership when the room was last sent (a join after an invite starts afresh). */
  membership: string;
  timelineLimit: number;
  /** Serialised required_state config the room was last sent with. */
  stateConfig: string;
  /** That config, to tell which state a changed config newly asks for. */
  include: StateRule[];
  exclude: StateRule[];
  /** Members already sent through lazy loading. */
  lazyMembers: Set<string>;
}

export interface ConnectionState {
  seq: number;
  rooms: Map<string, RoomSent>;
}

const MAX_CONNECTIONS = 20_000;
/**
 * States kept per connection. A client cancels an in-flight request and resends it with the same
 * pos (matrix-js-sdk does on every list change), while the cancelled long-poll may still answer
 * later: every answer's state stays usable until the client moves past it.
 */
const STATES_PER_CONNECTION = 8;

export class ConnectionStore {
  private readonly conns = new Map<string, Map<number, ConnectionState>>();
  private nextSeq = 1;

  /**
   * The state a pos names. MSC4186: once a request uses a pos, states from before it may go.
   */
  get(key: string, seq: number): ConnectionState | undefined {
    const states = this.conns.get(key);
    const state = states?.get(seq);
    if (!states || !state) return undefined;
    for (const s of states.keys()) if (s < seq) states.delete(s);
    return state;
  }

  /** Records the state after a response; returns its sequence number (the pos's first part). */
  commit(key: string, rooms: Map<string, RoomSent>): number {
    const seq = this.nextSeq++;
    let states = this.conns.get(key);
    if (!states) {
      if (this.conns.size >= MAX_CONNECTIONS) this.conns.delete(this.conns.keys().next().value!);
      states = new Map();
    }
    // Most recently used last, so the oldest connection goes first when the map is full.
    this.conns.delete(key);
    this.conns.set(key, states);
    states.set(seq, { seq, rooms });
    if (states.size > STATES_PER_CONNECTION) states.delete(states.keys().next().value!);
    return seq;
  }
}
