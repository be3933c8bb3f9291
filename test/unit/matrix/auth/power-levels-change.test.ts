import { stateKeyOf, type JsonObject } from '../../../../src/matrix/types.js';
import { ALICE, BOB, CAROL, DAVE, TestRoom, expectAllowed, expectRefused } from './helpers.js';

const pl = (room: TestRoom, sender: string, content: JsonObject) =>
  room.event({ type: 'm.room.power_levels', sender, state_key: '', content });

/** Alice 100, Bob 50 (joined), Carol 50 (joined); state_default 50 so Bob may send power levels. */
function room(versionId = '11', extra: JsonObject = {}): TestRoom {
  const r = new TestRoom(versionId, { powerLevels: { users: { [ALICE]: 100, [BOB]: 50, [CAROL]: 50 }, ...extra } });
  r.member(BOB, 'join');
  r.member(CAROL, 'join');
  return r;
}

const base = { users: { [ALICE]: 100, [BOB]: 50, [CAROL]: 50 } };

describe('auth rules: m.room.power_levels changes', () => {
  it('the first power levels event is allowed without comparison', () => {
    const r = new TestRoom('11', { powerLevels: false });
    expectAllowed(r.check(pl(r, ALICE, { users: { [ALICE]: 100 }, ban: 1000 })));
  });

  it('a sender below state_default cannot change power levels at all', () => {
    const r = room('11', { state_default: 60 });
    expectRefused(r.check(pl(r, BOB, { ...base, state_default: 60 })), /below the 60/);
  });

  it('scalar levels: changes up to the sender level are allowed, above it refused', () => {
    const r = room();
    expectAllowed(r.check(pl(r, BOB, { ...base, kick: 40 })));
    expectRefused(r.check(pl(r, BOB, { ...base, kick: 60 })), /cannot set kick/);
  });

  it('scalar levels: a current value above the sender cannot be changed or removed', () => {
    const r = room('11', { ban: 80 });
    expectRefused(r.check(pl(r, BOB, { ...base, ban: 10 })), /cannot change ban/);
    expectRefused(r.check(pl(r, BOB, { ...base })), /cannot change ban/);
    expectAllowed(r.check(pl(r, ALICE, { ...base })));
  });

  it('events: entries above the sender cannot be added, changed or removed', () => {
    const r = room('11', { events: { 'm.room.name': 90 } });
    const keep = { 'm.room.name': 90 };
    expectAllowed(r.check(pl(r, BOB, { ...base, events: { ...keep, 'm.room.topic': 50 } })));
    expectRefused(r.check(pl(r, BOB, { ...base, events: { ...keep, 'm.room.topic': 51 } })), /events\.m\.room\.topic/);
    expectRefused(r.check(pl(r, BOB, { ...base, events: {} })), /events\.m\.room\.name/);
  });

  it('notifications: checked from v6, not in v5', () => {
    const v5 = room('5', { notifications: { room: 90 } });
    expectAllowed(v5.check(pl(v5, BOB, { ...base, notifications: { room: 0 } })));
    const v6 = room('6', { notifications: { room: 90 } });
    expectRefused(v6.check(pl(v6, BOB, { ...base, notifications: { room: 0 } })), /notifications\.room/);
    const v6b = room('6');
    expectAllowed(v6b.check(pl(v6b, BOB, { ...base, notifications: { room: 50 } })));
    expectRefused(v6b.check(pl(v6b, BOB, { ...base, notifications: { room: 51 } })), /notifications\.room/);
  });

  it('users: a peer at the same level cannot be changed or removed; oneself can', () => {
    const r = room();
    expectRefused(r.check(pl(r, BOB, { users: { [ALICE]: 100, [BOB]: 50, [CAROL]: 0 } })), /level of @carol/);
    expectRefused(r.check(pl(r, BOB, { users: { [ALICE]: 100, [BOB]: 50 } })), /level of @carol/);
    expectAllowed(r.check(pl(r, BOB, { users: { [ALICE]: 100, [BOB]: 10, [CAROL]: 50 } })));
  });

  it('users: nobody can be given a level above the sender', () => {
    const r = room();
    expectAllowed(r.check(pl(r, BOB, { ...base, users: { ...base.users, [DAVE]: 50 } })));
    expectRefused(r.check(pl(r, BOB, { ...base, users: { ...base.users, [DAVE]: 51 } })), /give @dave/);
    expectRefused(r.check(pl(r, BOB, { ...base, users: { ...base.users, [BOB]: 60 } })), /give @bob/);
  });

  it('users: keys must be valid user IDs', () => {
    const r = room();
    expectRefused(r.check(pl(r, ALICE, { users: { ...base.users, 'not-a-user': 10 } })), /invalid user ID/);
  });

  it('string levels: accepted in v9, refused in v10', () => {
    const v9 = room('9');
    expectAllowed(v9.check(pl(v9, ALICE, { users: { [ALICE]: '100', [BOB]: ' +50 ', [CAROL]: '050' }, ban: '50' })));
    const v10 = room('10');
    expectRefused(v10.check(pl(v10, ALICE, { users: { [ALICE]: 100 }, ban: '50' })), /ban must be an integer/);
    expectRefused(v10.check(pl(v10, ALICE, { users: { [ALICE]: '100' } })), /invalid level/);
    expectRefused(v10.check(pl(v10, ALICE, { users: { [ALICE]: 100 }, events: { 'm.room.name': '50' } })), /events must be/);
    expectRefused(v10.check(pl(v10, ALICE, { users: { [ALICE]: 100 }, notifications: { room: 1.5 } })), /notifications must be/);
  });

  // spec: Room Versions 1-5 §"m.room.power_levels events accept values as floats": values beyond
  // binary64 (JSON.parse makes them ±Infinity), Infinity and NaN make the event rejected.
  it('v1-v5: floats are allowed, values outside binary64 are refused in every level field', () => {
    const v5 = room('5');
    expectAllowed(v5.check(pl(v5, ALICE, { users: { [ALICE]: 100, [BOB]: 50.57 }, ban: 50.5, events: { 'm.room.name': 49.9 } })));
    const contents: JsonObject[] = [
      { users: { [ALICE]: 100 }, ban: Infinity },
      { users: { [ALICE]: 100 }, users_default: -Infinity },
      { users: { [ALICE]: 100 }, events: { 'm.room.name': Infinity } },
      { users: { [ALICE]: 100 }, notifications: { room: NaN } },
      { users: { [ALICE]: 100, [BOB]: Infinity } },
    ];
    for (const content of contents) {
      expectRefused(v5.check(pl(v5, ALICE, content)), /not a (finite )?number|invalid level/);
    }
    const v1 = room('1');
    expectRefused(v1.check(pl(v1, ALICE, { users: { [ALICE]: 100 }, kick: Infinity })), /kick is not a finite number/);
  });

  it('v9: a string that is not an integer is refused in users', () => {
    const v9 = room('9');
    expectRefused(v9.check(pl(v9, ALICE, { users: { [ALICE]: '100', [BOB]: '5O' } })), /invalid level/);
  });

  it('v9: string levels are compared as numbers', () => {
    const v9 = room('9', { ban: '80' });
    expectAllowed(v9.check(pl(v9, BOB, { ...base, ban: 80 })));
    expectRefused(v9.check(pl(v9, BOB, { ...base, ban: '79' })), /cannot change ban/);
  });
});

describe('auth rules: v12 creators and power levels', () => {
  it('a creator listed in users is refused, also in the first power levels event', () => {
    const r = new TestRoom('12', { createContent: { additional_creators: [CAROL] }, powerLevels: false });
    expectRefused(r.check(pl(r, ALICE, { users: { [ALICE]: 100 } })), /creator @alice/);
    expectRefused(r.check(pl(r, ALICE, { users: { [CAROL]: 100 } })), /creator @carol/);
    expectAllowed(r.check(pl(r, ALICE, { users: { [BOB]: 100 } })));
  });

  it('v11: the creator may be listed in users', () => {
    const r = new TestRoom('11', { powerLevels: false });
    expectAllowed(r.check(pl(r, ALICE, { users: { [ALICE]: 100 } })));
  });

  it('a creator can change any level, including users above 100', () => {
    const r = new TestRoom('12', { powerLevels: { users: { [DAVE]: 9000 }, ban: 9000 } });
    expectAllowed(r.check(pl(r, ALICE, { users: { [DAVE]: 0, [BOB]: 9001 }, ban: 1 })));
  });

  it('an admin at 100 cannot grant power over a creator (creators are not in users)', () => {
    const r = new TestRoom('12', { powerLevels: { users: { [DAVE]: 100 } } });
    r.member(DAVE, 'join');
    expectRefused(r.check(pl(r, DAVE, { users: { [DAVE]: 100, [ALICE]: 0 } })), /creator @alice/);
  });

  it('the creator keeps infinite power without any power levels event', () => {
    const r = new TestRoom('12', { powerLevels: false });
    r.state.delete(stateKeyOf('m.room.power_levels', ''));
    expectAllowed(r.check(r.event({ type: 'm.room.tombstone', sender: ALICE, state_key: '', content: {} })));
  });
});
