import { expect } from 'chai';
import { authEventsSelection, buildAuthState, checkAuth, checkAuthEventsList } from '../../../../src/matrix/auth-rules.js';
import { splitStateKey, stateKeyOf, type RoomEvent } from '../../../../src/matrix/types.js';
import { ALICE, BOB, CAROL, TestRoom, expectAllowed, expectRefused, version } from './helpers.js';

const keys = (ks: string[]) => ks.map((k) => splitStateKey(k).join('|'));

describe('auth events selection', () => {
  it('create event: nothing', () => {
    expect(authEventsSelection({ type: 'm.room.create', state_key: '', sender: ALICE, content: {} }, version('11'))).to.deep.equal([]);
  });

  it('message in v11: create, power levels, sender membership', () => {
    const sel = authEventsSelection({ type: 'm.room.message', sender: BOB, content: {} }, version('11'));
    expect(keys(sel)).to.deep.equal(['m.room.create|', 'm.room.power_levels|', `m.room.member|${BOB}`]);
  });

  it('v12: the create event is never selected', () => {
    const sel = authEventsSelection({ type: 'm.room.message', sender: BOB, content: {} }, version('12'));
    expect(keys(sel)).to.deep.equal(['m.room.power_levels|', `m.room.member|${BOB}`]);
  });

  it('invite: target membership, join rules, third-party invite token', () => {
    const sel = authEventsSelection(
      { type: 'm.room.member', state_key: BOB, sender: ALICE, content: { membership: 'invite', third_party_invite: { signed: { token: 'tok' } } } },
      version('11'),
    );
    expect(keys(sel)).to.deep.equal([
      'm.room.create|',
      'm.room.power_levels|',
      `m.room.member|${ALICE}`,
      `m.room.member|${BOB}`,
      'm.room.join_rules|',
      'm.room.third_party_invite|tok',
    ]);
  });

  it('restricted join: the authorising user membership from v8, not before', () => {
    const ev = { type: 'm.room.member', state_key: BOB, sender: BOB, content: { membership: 'join', join_authorised_via_users_server: CAROL } };
    expect(keys(authEventsSelection(ev, version('8')))).to.include(`m.room.member|${CAROL}`);
    expect(keys(authEventsSelection(ev, version('7')))).not.to.include(`m.room.member|${CAROL}`);
  });

  it('leave: no join rules', () => {
    const sel = authEventsSelection({ type: 'm.room.member', state_key: BOB, sender: ALICE, content: { membership: 'leave' } }, version('11'));
    expect(keys(sel)).not.to.include('m.room.join_rules|');
    expect(keys(sel)).to.include(`m.room.member|${BOB}`);
  });
});

describe('checkAuthEventsList', () => {
  const setup = (id: string) => {
    const room = new TestRoom(id, { joinRule: 'public' });
    const join = room.membership(BOB, BOB, 'join');
    const get = (t: string, k: string) => room.state.get(stateKeyOf(t, k))!;
    return { room, join, get };
  };

  it('v11: the selected events pass; a missing create event is refused', () => {
    const { room, join, get } = setup('11');
    const authEvents = [get('m.room.create', ''), get('m.room.power_levels', ''), get('m.room.join_rules', '')];
    expectAllowed(checkAuthEventsList(join, authEvents, room.version));
    expectRefused(checkAuthEventsList(join, authEvents.slice(1), room.version), /no m\.room\.create/);
    expectAllowed(checkAuth(join, buildAuthState(authEvents), room.version));
  });

  it('duplicates and unexpected entries are refused', () => {
    const { room, join, get } = setup('11');
    const create = get('m.room.create', '');
    const pl = get('m.room.power_levels', '');
    const otherPl: RoomEvent = { ...pl, event_id: '$pl2' };
    expectRefused(checkAuthEventsList(join, [create, pl, otherPl], room.version), /duplicate/);
    const topic = room.put(room.event({ type: 'm.room.topic', sender: ALICE, state_key: '', content: {} }));
    expectRefused(checkAuthEventsList(join, [create, topic], room.version), /unexpected/);
  });

  it('auth events from another room are refused', () => {
    const { room, join, get } = setup('11');
    const foreign: RoomEvent = { ...get('m.room.power_levels', ''), room_id: '!elsewhere:a.test' };
    expectRefused(checkAuthEventsList(join, [get('m.room.create', ''), foreign], room.version), /another room/);
  });

  it('v12: listing the create event is refused; without it the list passes and the caller adds it', () => {
    const { room, join, get } = setup('12');
    const pl = get('m.room.power_levels', '');
    const jr = get('m.room.join_rules', '');
    expectRefused(checkAuthEventsList(join, [room.create, pl, jr], room.version), /unexpected/);
    expectAllowed(checkAuthEventsList(join, [pl, jr], room.version));
    expectRefused(checkAuth(join, buildAuthState([pl, jr]), room.version), /no m\.room\.create/);
    expectAllowed(checkAuth(join, buildAuthState([pl, jr], room.create), room.version));
  });
});
