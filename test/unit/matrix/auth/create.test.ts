import { expect } from 'chai';
import { checkAuth } from '../../../../src/matrix/auth-rules.js';
import { stateKeyOf, type JsonObject, type RoomEvent } from '../../../../src/matrix/types.js';
import { ALICE, BOB, TestRoom, expectAllowed, expectRefused, makeEvent, version } from './helpers.js';

function createEvent(versionId: string, over: Partial<RoomEvent> = {}): RoomEvent {
  const v = version(versionId);
  const content: JsonObject = v.implicitRoomCreator ? { room_version: versionId } : { room_version: versionId, creator: ALICE };
  const ev = makeEvent({ type: 'm.room.create', sender: ALICE, state_key: '', content, room_id: '!new:a.test', prev_events: [] });
  if (v.privilegedCreators) delete (ev as Partial<RoomEvent>).room_id;
  return { ...ev, ...over };
}

describe('auth rules: m.room.create', () => {
  for (const id of ['1', '6', '10', '11', '12']) {
    it(`v${id}: a well-formed create event is allowed`, () => {
      expectAllowed(checkAuth(createEvent(id), new Map(), version(id)));
    });
    it(`v${id}: a create event with prev_events is refused`, () => {
      expectRefused(checkAuth(createEvent(id, { prev_events: ['$x'] }), new Map(), version(id)), /prev_events/);
    });
    it(`v${id}: an unknown content.room_version is refused`, () => {
      const ev = createEvent(id);
      ev.content = { ...ev.content, room_version: '999' };
      expectRefused(checkAuth(ev, new Map(), version(id)), /room_version/);
    });
  }

  it('v11: room_id domain must match the sender domain', () => {
    expectRefused(checkAuth(createEvent('11', { room_id: '!new:b.test' }), new Map(), version('11')), /domain/);
  });

  it('v10: content without creator is refused; v11: allowed (creator is the sender)', () => {
    const v10 = createEvent('10');
    delete v10.content['creator'];
    expectRefused(checkAuth(v10, new Map(), version('10')), /creator/);
    const v11 = createEvent('11');
    expect(v11.content).not.to.have.property('creator');
    expectAllowed(checkAuth(v11, new Map(), version('11')));
  });

  it('v12: a create event carrying a room_id is refused', () => {
    expectRefused(checkAuth(createEvent('12', { room_id: '!new:a.test' }), new Map(), version('12')), /room_id/);
  });

  // The server gives a normalised v12 create event its derived room ID. No PDU can carry that one
  // itself (its event ID is the hash of the PDU, room_id included), so it is no room_id in the
  // sense of rule 1.2 and the event must not be refused when re-checked (e.g. in state resolution).
  it('v12: a normalised create event holding its own derived room ID is allowed; any other room_id is not', () => {
    const ev = createEvent('12');
    expectAllowed(checkAuth({ ...ev, room_id: `!${ev.event_id.slice(1)}` }, new Map(), version('12')));
    expectRefused(checkAuth({ ...ev, room_id: `!${ev.event_id.slice(1)}x` }, new Map(), version('12')), /room_id/);
  });

  it('v12: additional_creators must be valid user IDs', () => {
    const good = createEvent('12');
    good.content = { ...good.content, additional_creators: [BOB, '@carol:c.test:8448'] };
    expectAllowed(checkAuth(good, new Map(), version('12')));
    for (const bad of [['not-a-user'], [BOB, 42], '@bob:b.test', ['@bob'], ['@bob:'], ['@bob:bad host']]) {
      const ev = createEvent('12');
      ev.content = { ...ev.content, additional_creators: bad };
      expectRefused(checkAuth(ev, new Map(), version('12')), /additional_creators/);
    }
  });

  it('v11: additional_creators is not validated before v12', () => {
    const ev = createEvent('11');
    ev.content = { ...ev.content, additional_creators: ['nonsense'] };
    expectAllowed(checkAuth(ev, new Map(), version('11')));
  });
});

describe('auth rules: the create event of the room', () => {
  it('an event whose auth state lacks m.room.create is refused', () => {
    const room = new TestRoom('10');
    const msg = room.event({ type: 'm.room.message', sender: ALICE, content: { body: 'hi' } });
    expectAllowed(room.check(msg));
    room.state.delete(stateKeyOf('m.room.create', ''));
    expectRefused(room.check(msg), /no m\.room\.create/);
  });

  it('v11: a create event of another room is refused', () => {
    const room = new TestRoom('11');
    const other = new TestRoom('11');
    const msg = room.event({ type: 'm.room.message', sender: ALICE, content: {} });
    room.put(other.create);
    expectRefused(room.check(msg), /another room/);
  });

  it('v12: the room ID must be the create event ID with a ! sigil', () => {
    const room = new TestRoom('12');
    const msg = room.event({ type: 'm.room.message', sender: ALICE, content: {} });
    expectAllowed(room.check(msg));
    const other = new TestRoom('12');
    room.put(other.create);
    expectRefused(room.check(msg), /another room/);
  });

  it('an auth state event from another room is refused', () => {
    const room = new TestRoom('9');
    const other = new TestRoom('9');
    const msg = room.event({ type: 'm.room.message', sender: BOB, content: {} });
    room.put(other.event({ type: 'm.room.member', sender: BOB, state_key: BOB, content: { membership: 'join' } }));
    expectRefused(room.check(msg), /another room/);
    room.member(BOB, 'join');
    expectAllowed(room.check(msg));
  });
});

describe('auth rules: m.federate', () => {
  for (const id of ['3', '11', '12']) {
    it(`v${id}: m.federate=false refuses a remote sender and allows a local one`, () => {
      const room = new TestRoom(id, { createContent: { 'm.federate': false }, joinRule: 'public' });
      expectRefused(room.check(room.membership(BOB, BOB, 'join')), /not federated/);
      expectAllowed(room.check(room.membership('@dave:a.test', '@dave:a.test', 'join')));
    });
  }

  it('m.federate=true (or absent) allows a remote sender', () => {
    const room = new TestRoom('11', { createContent: { 'm.federate': true }, joinRule: 'public' });
    expectAllowed(room.check(room.membership(BOB, BOB, 'join')));
  });
});
