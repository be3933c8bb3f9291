/**
 * The room DAG the state resolution tests build their scenarios on (shared by the test files).
 */
import { expect } from 'chai';
import { resolveState } from '../../../src/matrix/state-resolution.js';
import { authEventsSelection, checkAuth } from '../../../src/matrix/auth-rules.js';
import { getRoomVersion, type RoomVersion } from '../../../src/matrix/room-versions.js';
import { stateKeyOf, type JsonObject, type RoomEvent, type StateIdMap, type StateKey } from '../../../src/matrix/types.js';

export const ALICE = '@alice:example.com';
export const BOB = '@bob:example.com';
export const CHARLIE = '@charlie:example.com';
export const EVELYN = '@evelyn:example.com';
export const ZARA = '@zara:example.com';

export const CREATE = 'm.room.create';
export const MEMBER = 'm.room.member';
export const PL = 'm.room.power_levels';
export const JR = 'm.room.join_rules';
export const TOPIC = 'm.room.topic';
export const MESSAGE = 'm.room.message';

export const join = { membership: 'join' };
export const ban = { membership: 'ban' };
export const leave = { membership: 'leave' };

export function version(id: string): RoomVersion {
  const v = getRoomVersion(id);
  if (!v) throw new Error(`unknown room version ${id}`);
  return v;
}

export const id = (node: string): string => `$${node}`;

/**
 * A room DAG built event by event. Each event's auth_events are selected from the state before
 * it, and that state is resolved with resolveState whenever an event has several prev_events,
 * so building a graph already exercises the resolver the way a server would.
 */
export class Dag {
  readonly events = new Map<string, RoomEvent>();
  private readonly after = new Map<string, StateIdMap>();
  private clock = 0;

  constructor(readonly version: RoomVersion) {}

  get roomId(): string {
    return this.version.privilegedCreators ? '!CREATE' : '!room:example.com';
  }

  /** `users` of a power levels event: v12 creators may not be listed (they are implicitly infinite). */
  users(users: Record<string, number>): Record<string, number> {
    if (!this.version.privilegedCreators) return users;
    const rest = { ...users };
    delete rest[ALICE];
    return rest;
  }

  add(
    node: string,
    type: string,
    sender: string,
    stateKey: string | undefined,
    content: JsonObject,
    prev: string[],
    opts: { ts?: number; unchecked?: boolean } = {},
  ): RoomEvent {
    const before = this.stateBefore(prev);
    const authIds: string[] = [];
    for (const key of authEventsSelection({ type, state_key: stateKey, sender, content }, this.version)) {
      const a = before.get(key);
      if (a !== undefined) authIds.push(a);
    }
    const depth = Math.max(0, ...prev.map((p) => this.event(p).depth)) + 1;
    const ev: RoomEvent = {
      event_id: id(node),
      room_id: this.roomId,
      sender,
      origin_server_ts: opts.ts ?? ++this.clock,
      type,
      content,
      prev_events: prev.map(id),
      auth_events: authIds,
      depth,
      hashes: { sha256: 'dummy' },
      signatures: { 'example.com': { 'ed25519:1': 'dummy' } },
    };
    if (stateKey !== undefined) ev.state_key = stateKey;
    if (type === CREATE && this.version.privilegedCreators) delete (ev as Partial<RoomEvent>).room_id;
    this.events.set(ev.event_id, ev);
    if (!opts.unchecked) {
      // Guards the test graphs themselves: every event must be valid against its auth events.
      const authState = new Map(authIds.map((a) => [key(this.events.get(a)!), this.events.get(a)!] as const));
      if (this.version.privilegedCreators && type !== CREATE) {
        authState.set(stateKeyOf(CREATE, ''), this.event('CREATE'));
      }
      const result = checkAuth(ev, authState, this.version);
      if (!result.allowed) throw new Error(`test graph: ${node} fails auth: ${result.reason}`);
    }
    const state = new Map(before);
    if (stateKey !== undefined) state.set(stateKeyOf(type, stateKey), ev.event_id);
    this.after.set(node, state);
    return ev;
  }

  event(node: string): RoomEvent {
    const ev = this.events.get(id(node));
    if (!ev) throw new Error(`no node ${node}`);
    return ev;
  }

  stateAfter(node: string): StateIdMap {
    const s = this.after.get(node);
    if (!s) throw new Error(`no node ${node}`);
    return s;
  }

  stateBefore(prev: string[]): StateIdMap {
    if (prev.length === 0) return new Map();
    if (prev.length === 1) return new Map(this.stateAfter(prev[0]!));
    return resolveState(
      this.version,
      prev.map((p) => this.stateAfter(p)),
      this.events,
    );
  }
}

export function key(ev: RoomEvent): StateKey {
  return stateKeyOf(ev.type, ev.state_key!);
}

/** The room every scenario starts from: alice creates a public room, bob, charlie and zara join. */
export function initialRoom(v: RoomVersion): Dag {
  const d = new Dag(v);
  const createContent: JsonObject = { room_version: v.id };
  if (!v.implicitRoomCreator) createContent['creator'] = ALICE;
  d.add('CREATE', CREATE, ALICE, '', createContent, []);
  d.add('IMA', MEMBER, ALICE, ALICE, join, ['CREATE']);
  d.add('IPOWER', PL, ALICE, '', { users: d.users({ [ALICE]: 100 }) }, ['IMA']);
  d.add('IJR', JR, ALICE, '', { join_rule: 'public' }, ['IPOWER']);
  d.add('IMB', MEMBER, BOB, BOB, join, ['IJR']);
  d.add('IMC', MEMBER, CHARLIE, CHARLIE, join, ['IMB']);
  d.add('IMZ', MEMBER, ZARA, ZARA, join, ['IMC']);
  d.add('START', MESSAGE, ZARA, undefined, {}, ['IMZ']);
  return d;
}

/**
 * Keys of `end` that changed since START, or that `expected` names, against the expected nodes:
 * the way the Synapse state-res tests phrase their expectations.
 */
export function expectChanges(d: Dag, end: StateIdMap, expected: string[]): void {
  const want = new Map<StateKey, string>();
  for (const node of expected) want.set(key(d.event(node)), id(node));
  const start = d.stateAfter('START');
  const got = new Map<StateKey, string>();
  for (const [k, v] of end) if (want.has(k) || start.get(k) !== v) got.set(k, v);
  for (const k of start.keys()) if (!end.has(k)) got.set(k, '<removed>');
  expect(Object.fromEntries(got)).to.deep.equal(Object.fromEntries(want));
}

export const member = (user: string) => stateKeyOf(MEMBER, user);
export const PL_KEY = stateKeyOf(PL, '');
export const TOPIC_KEY = stateKeyOf(TOPIC, '');
