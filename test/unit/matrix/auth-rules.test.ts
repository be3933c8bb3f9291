/**
 * End-to-end use of the auth API the way the event pipeline uses it: pick auth events with
 * authEventsSelection, check the list, build the auth state, then checkAuth. The per-rule tests
 * live in test/unit/matrix/auth/.
 */

import { expect } from 'chai';
import { authEventsSelection, buildAuthState, checkAuth, checkAuthEventsList } from '../../../src/matrix/auth-rules.js';
import { getRoomVersion, type RoomVersion } from '../../../src/matrix/room-versions.js';
import { stateKeyOf, type AuthResult, type JsonObject, type RoomEvent, type StateMap } from '../../../src/matrix/types.js';

const ALICE = '@alice:a.test';
const BOB = '@bob:b.test';

class Pipeline {
  readonly state: StateMap = new Map();
  readonly byId = new Map<string, RoomEvent>();
  roomId = '';
  private last: string[] = [];
  private n = 0;

  constructor(readonly version: RoomVersion) {}

  /** Builds the next event, authorises it against its auth events, and applies it if allowed. */
  send(type: string, sender: string, content: JsonObject, stateKey?: string): AuthResult {
    this.n += 1;
    const selection = type === 'm.room.create' ? [] : authEventsSelection({ type, sender, content, ...(stateKey !== undefined ? { state_key: stateKey } : {}) }, this.version);
    const authEvents = selection.map((k) => this.state.get(k)).filter((e): e is RoomEvent => e !== undefined);
    const ev: RoomEvent = {
      event_id: type === 'm.room.create' && this.version.privilegedCreators ? '$createhash' : `$e${this.n}:a.test`,
      room_id: this.roomId,
      sender,
      origin_server_ts: this.n,
      type,
      content,
      prev_events: [...this.last],
      auth_events: authEvents.map((e) => e.event_id),
      depth: this.n,
      hashes: { sha256: 'x' },
      signatures: { [sender.split(':')[1]!]: { 'ed25519:k': 's' } },
    };
    if (stateKey !== undefined) ev.state_key = stateKey;
    if (type === 'm.room.create') {
      if (this.version.privilegedCreators) {
        delete (ev as Partial<RoomEvent>).room_id;
        this.roomId = '!createhash';
      } else {
        this.roomId = ev.room_id = '!r:a.test';
      }
    }
    const listCheck = checkAuthEventsList(ev, authEvents, this.version);
    if (!listCheck.allowed) return listCheck;
    const create = this.version.privilegedCreators ? this.state.get(stateKeyOf('m.room.create', '')) : undefined;
    const result = checkAuth(ev, buildAuthState(authEvents, create), this.version);
    // The auth-events verdict and the current-state verdict agree in a linear room.
    expect(checkAuth(ev, this.state, this.version)).to.deep.equal(result);
    if (result.allowed) {
      this.byId.set(ev.event_id, ev);
      this.last = [ev.event_id];
      if (stateKey !== undefined) this.state.set(stateKeyOf(type, stateKey), ev);
    }
    return result;
  }
}

for (const id of ['1', '6', '10', '11', '12']) {
  describe(`auth rules pipeline, room version ${id}`, () => {
    const version = getRoomVersion(id)!;

    it('a room lifecycle: create, join, message, refused topic, ban, refused rejoin, unban, rejoin', () => {
      const p = new Pipeline(version);
      const createContent: JsonObject = version.implicitRoomCreator ? { room_version: id } : { room_version: id, creator: ALICE };
      const users: JsonObject = version.privilegedCreators ? {} : { [ALICE]: 100 };
      const steps: Array<[string, string, JsonObject, string | undefined, boolean]> = [
        ['m.room.create', ALICE, createContent, '', true],
        ['m.room.member', ALICE, { membership: 'join' }, ALICE, true],
        ['m.room.power_levels', ALICE, { users }, '', true],
        ['m.room.join_rules', ALICE, { join_rule: 'public' }, '', true],
        ['m.room.message', BOB, { body: 'not yet in' }, undefined, false],
        ['m.room.member', BOB, { membership: 'join' }, BOB, true],
        ['m.room.message', BOB, { body: 'hello' }, undefined, true],
        ['m.room.topic', BOB, { topic: 'mine' }, '', false],
        ['m.room.member', BOB, { membership: 'ban' }, ALICE, false],
        ['m.room.member', ALICE, { membership: 'ban' }, BOB, true],
        ['m.room.member', BOB, { membership: 'join' }, BOB, false],
        ['m.room.member', ALICE, { membership: 'leave' }, BOB, true],
        ['m.room.member', BOB, { membership: 'join' }, BOB, true],
      ];
      const outcomes = steps.map(([type, sender, content, sk]) => p.send(type, sender, content, sk).allowed);
      expect(outcomes).to.deep.equal(steps.map((s) => s[4]));
    });
  });
}
