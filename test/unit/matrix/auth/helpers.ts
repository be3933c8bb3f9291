/**
 * Hand-built rooms for the authorisation rule tests. Event IDs and hashes are dummies: the auth
 * rules never look at them except for v12 room IDs and v1-v2 event ID domains.
 */

import { expect } from 'chai';
import { getRoomVersion, type RoomVersion } from '../../../../src/matrix/room-versions.js';
import { stateKeyOf, type AuthResult, type JsonObject, type RoomEvent, type StateMap } from '../../../../src/matrix/types.js';
import { checkAuth } from '../../../../src/matrix/auth-rules.js';

export const ALICE = '@alice:a.test';
export const BOB = '@bob:b.test';
export const CAROL = '@carol:c.test';
export const DAVE = '@dave:a.test';

let counter = 0;

export function version(id: string): RoomVersion {
  const v = getRoomVersion(id);
  if (!v) throw new Error(`unknown room version ${id}`);
  return v;
}

export interface EventInit {
  type: string;
  sender: string;
  content?: JsonObject;
  state_key?: string;
  room_id?: string;
  event_id?: string;
  prev_events?: string[];
  signatures?: Record<string, Record<string, string>>;
  redacts?: string;
}

export function makeEvent(init: EventInit): RoomEvent {
  counter += 1;
  const ev: RoomEvent = {
    event_id: init.event_id ?? `$ev${counter}`,
    room_id: init.room_id ?? '!room:a.test',
    sender: init.sender,
    origin_server_ts: 1_700_000_000_000 + counter,
    type: init.type,
    content: init.content ?? {},
    prev_events: init.prev_events ?? [`$prev${counter}`],
    auth_events: [],
    depth: counter,
    hashes: { sha256: 'dummy' },
    signatures: init.signatures ?? { [init.sender.slice(init.sender.indexOf(':') + 1)]: { 'ed25519:k': 'sig' } },
  };
  if (init.state_key !== undefined) ev.state_key = init.state_key;
  if (init.redacts !== undefined) ev.redacts = init.redacts;
  return ev;
}

export interface RoomOptions {
  creator?: string;
  createContent?: JsonObject;
  /** false: no m.room.power_levels event at all. */
  powerLevels?: JsonObject | false;
  joinRule?: string | false;
}

/** A room with its state map, already containing create, the creator's join, power levels and join rules. */
export class TestRoom {
  readonly version: RoomVersion;
  readonly roomId: string;
  readonly creator: string;
  readonly create: RoomEvent;
  readonly state: StateMap = new Map();

  constructor(versionId: string, opts: RoomOptions = {}) {
    this.version = version(versionId);
    this.creator = opts.creator ?? ALICE;
    const content: JsonObject = { room_version: versionId, ...(opts.createContent ?? {}) };
    if (!this.version.implicitRoomCreator && !('creator' in content)) content['creator'] = this.creator;
    if (this.version.privilegedCreators) {
      counter += 1;
      const hash = `hash${counter}`;
      this.roomId = `!${hash}`;
      this.create = makeEvent({ type: 'm.room.create', sender: this.creator, state_key: '', content, event_id: `$${hash}`, prev_events: [] });
      delete (this.create as Partial<RoomEvent>).room_id;
    } else {
      this.roomId = `!room${counter}:${this.creator.split(':')[1]}`;
      this.create = makeEvent({ type: 'm.room.create', sender: this.creator, state_key: '', content, room_id: this.roomId, prev_events: [] });
    }
    this.put(this.create);
    this.member(this.creator, 'join');
    if (opts.powerLevels !== false) {
      const users: JsonObject = this.version.privilegedCreators ? {} : { [this.creator]: 100 };
      this.put(this.event({ type: 'm.room.power_levels', sender: this.creator, state_key: '', content: opts.powerLevels ?? { users } }));
    }
    if (opts.joinRule !== false) {
      this.put(this.event({ type: 'm.room.join_rules', sender: this.creator, state_key: '', content: { join_rule: opts.joinRule ?? 'invite' } }));
    }
  }

  event(init: EventInit): RoomEvent {
    return makeEvent({ room_id: this.roomId, ...init });
  }

  put(ev: RoomEvent): RoomEvent {
    if (ev.state_key === undefined) throw new Error('not a state event');
    this.state.set(stateKeyOf(ev.type, ev.state_key), ev);
    return ev;
  }

  /** Put a member event for `userId` straight into state (no auth check). */
  member(userId: string, membership: string, extra: JsonObject = {}): RoomEvent {
    return this.put(this.event({ type: 'm.room.member', sender: userId, state_key: userId, content: { membership, ...extra } }));
  }

  /** Replace the power levels content in state (no auth check). */
  setPowerLevels(content: JsonObject): RoomEvent {
    return this.put(this.event({ type: 'm.room.power_levels', sender: this.creator, state_key: '', content }));
  }

  setJoinRule(rule: string, extra: JsonObject = {}): RoomEvent {
    return this.put(this.event({ type: 'm.room.join_rules', sender: this.creator, state_key: '', content: { join_rule: rule, ...extra } }));
  }

  /** A membership event by `sender` about `target`. */
  membership(sender: string, target: string, membership: string, extra: JsonObject = {}): RoomEvent {
    return this.event({ type: 'm.room.member', sender, state_key: target, content: { membership, ...extra } });
  }

  check(ev: RoomEvent): AuthResult {
    return checkAuth(ev, this.state, this.version);
  }
}

export function expectAllowed(result: AuthResult): void {
  expect(result, result.allowed ? '' : result.reason).to.deep.equal({ allowed: true });
}

/** Refused, and for the expected reason (so a refusal for some unrelated rule does not pass). */
export function expectRefused(result: AuthResult, why: RegExp): void {
  expect(result.allowed, 'expected a refusal').to.equal(false);
  if (!result.allowed) expect(result.reason).to.match(why);
}
