/**
 * Per-connection memory of sliding sync (MSC4186 "Connections"): what each room was last sent
 * with. The state for the previous `pos` is kept too, because a client may retry with it. Held in
 * memory: after a restart the client gets M_UNKNOWN_POS and starts the connection again.
 */
export interface RoomSent {
  /** Events up to this stream position were sent. */
  stream: number;
  timelineLimit: number;
  /** Serialised required_state config the room was last sent with. */
  stateConfig: string;
  /** Members already sent through lazy loading. */
  lazyMembers: Set<string>;
}

export interface ConnectionState {
  seq: number;
  rooms: Map<string, RoomSent>;
}

const MAX_CONNECTIONS = 20_000;

export class ConnectionStore {
  private readonly conns = new Map<string, { current: ConnectionState; previous?: ConnectionState }>();
  private nextSeq = 1;

  get(key: string, seq: number): ConnectionState | undefined {
    const c = this.conns.get(key);
    if (!c) return undefined;
    if (c.current.seq === seq) return c.current;
    if (c.previous?.seq === seq) return c.previous;
    return undefined;
  }

  /** Records the state after a response built on `base`; returns the new sequence number. */
  commit(key: string, base: ConnectionState | undefined, rooms: Map<string, RoomSent>): number {
    const seq = this.nextSeq++;
    const existing = this.conns.get(key);
    if (!existing && this.conns.size >= MAX_CONNECTIONS) this.conns.delete(this.conns.keys().next().value!);
    this.conns.set(key, { current: { seq, rooms }, previous: base ?? existing?.current });
    return seq;
  }
}
