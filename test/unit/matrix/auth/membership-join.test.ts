import { ALICE, BOB, CAROL, TestRoom, expectAllowed, expectRefused } from './helpers.js';

describe('auth rules: m.room.member basics', () => {
  it('a member event without a state_key or membership is refused', () => {
    const room = new TestRoom('11', { joinRule: 'public' });
    const noMembership = room.event({ type: 'm.room.member', sender: BOB, state_key: BOB, content: {} });
    expectRefused(room.check(noMembership), /state_key and content\.membership/);
    const noStateKey = room.event({ type: 'm.room.member', sender: BOB, content: { membership: 'join' } });
    expectRefused(room.check(noStateKey), /state_key and content\.membership/);
    expectAllowed(room.check(room.membership(BOB, BOB, 'join')));
  });

  it('an unknown membership is refused', () => {
    const room = new TestRoom('11');
    expectRefused(room.check(room.membership(ALICE, ALICE, 'dance')), /unknown membership/);
  });
});

describe('auth rules: join', () => {
  for (const id of ['1', '10', '11', '12']) {
    it(`v${id}: the creator's join right after the create event is allowed, anyone else's is not`, () => {
      const room = new TestRoom(id, { powerLevels: false, joinRule: false });
      room.state.clear();
      room.put(room.create);
      const first = room.event({ type: 'm.room.member', sender: ALICE, state_key: ALICE, content: { membership: 'join' }, prev_events: [room.create.event_id] });
      expectAllowed(room.check(first));
      const intruder = room.event({ type: 'm.room.member', sender: BOB, state_key: BOB, content: { membership: 'join' }, prev_events: [room.create.event_id] });
      expectRefused(room.check(intruder), /invite-only/);
    });
  }

  it("the creator's join is not special unless its only prev event is the create event", () => {
    const room = new TestRoom('11', { powerLevels: false, joinRule: false });
    room.state.clear();
    room.put(room.create);
    const late = room.event({ type: 'm.room.member', sender: ALICE, state_key: ALICE, content: { membership: 'join' }, prev_events: ['$other'] });
    expectRefused(room.check(late), /invite-only/);
    const two = room.event({ type: 'm.room.member', sender: ALICE, state_key: ALICE, content: { membership: 'join' }, prev_events: [room.create.event_id, '$other'] });
    expectRefused(room.check(two), /invite-only/);
  });

  it('v10: the first join goes by content.creator, not the create sender', () => {
    const room = new TestRoom('10', { createContent: { creator: BOB }, powerLevels: false, joinRule: false });
    room.state.clear();
    room.put(room.create);
    const byBob = room.event({ type: 'm.room.member', sender: BOB, state_key: BOB, content: { membership: 'join' }, prev_events: [room.create.event_id] });
    expectAllowed(room.check(byBob));
    const byAlice = room.event({ type: 'm.room.member', sender: ALICE, state_key: ALICE, content: { membership: 'join' }, prev_events: [room.create.event_id] });
    expectRefused(room.check(byAlice), /invite-only/);
  });

  it('joining on behalf of another user is refused', () => {
    const room = new TestRoom('11', { joinRule: 'public' });
    expectRefused(room.check(room.membership(ALICE, BOB, 'join')), /behalf/);
    expectAllowed(room.check(room.membership(BOB, BOB, 'join')));
  });

  it('public: anyone may join; a banned user cannot rejoin', () => {
    const room = new TestRoom('11', { joinRule: 'public' });
    expectAllowed(room.check(room.membership(BOB, BOB, 'join')));
    room.member(BOB, 'ban');
    expectRefused(room.check(room.membership(BOB, BOB, 'join')), /banned/);
  });

  it('invite: only invited or joined users may join', () => {
    const room = new TestRoom('11', { joinRule: 'invite' });
    expectRefused(room.check(room.membership(BOB, BOB, 'join')), /invite-only/);
    room.member(BOB, 'invite');
    expectAllowed(room.check(room.membership(BOB, BOB, 'join')));
  });

  it('an unknown join rule refuses joins', () => {
    const room = new TestRoom('11', { joinRule: 'private' });
    expectRefused(room.check(room.membership(BOB, BOB, 'join')), /does not allow joining/);
  });

  it('knock join rule: refused in v6, invite-like in v7', () => {
    const v6 = new TestRoom('6', { joinRule: 'knock' });
    v6.member(BOB, 'invite');
    expectRefused(v6.check(v6.membership(BOB, BOB, 'join')), /does not allow joining/);
    const v7 = new TestRoom('7', { joinRule: 'knock' });
    expectRefused(v7.check(v7.membership(BOB, BOB, 'join')), /invite-only/);
    v7.member(BOB, 'invite');
    expectAllowed(v7.check(v7.membership(BOB, BOB, 'join')));
  });
});

describe('auth rules: restricted joins', () => {
  const via = (room: TestRoom, authoriser: string) =>
    room.event({
      type: 'm.room.member',
      sender: BOB,
      state_key: BOB,
      content: { membership: 'join', join_authorised_via_users_server: authoriser },
      signatures: { 'b.test': { 'ed25519:k': 's' }, [authoriser.split(':')[1]!]: { 'ed25519:k': 's' } },
    });

  it('v8: allowed via a joined user with invite power', () => {
    const room = new TestRoom('8', { joinRule: 'restricted' });
    expectAllowed(room.check(via(room, ALICE)));
  });

  it('v7: the restricted join rule does not exist, so the join is refused', () => {
    const room = new TestRoom('7', { joinRule: 'restricted' });
    expectRefused(room.check(via(room, ALICE)), /does not allow joining/);
  });

  it('v8: refused with no authorising user', () => {
    const room = new TestRoom('8', { joinRule: 'restricted' });
    expectRefused(room.check(room.membership(BOB, BOB, 'join')), /without an authorising user/);
  });

  it('v9: refused when the authorising user lacks invite power', () => {
    const room = new TestRoom('9', { joinRule: 'restricted', powerLevels: { users: { [ALICE]: 100 }, invite: 50 } });
    room.member(CAROL, 'join');
    expectRefused(room.check(via(room, CAROL)), /cannot invite/);
    expectAllowed(room.check(via(room, ALICE)));
  });

  it('v9: refused when the authorising user is not joined', () => {
    const room = new TestRoom('9', { joinRule: 'restricted' });
    room.member(CAROL, 'leave');
    expectRefused(room.check(via(room, CAROL)), /not joined/);
  });

  it('v9: refused when the authorising server did not sign the event', () => {
    const room = new TestRoom('9', { joinRule: 'restricted' });
    const ev = via(room, ALICE);
    ev.signatures = { 'b.test': { 'ed25519:k': 's' } };
    expectRefused(room.check(ev), /not signed by the server/);
  });

  it('v9: an invited user joins a restricted room without an authoriser', () => {
    const room = new TestRoom('9', { joinRule: 'restricted' });
    room.member(BOB, 'invite');
    expectAllowed(room.check(room.membership(BOB, BOB, 'join')));
  });

  it('knock_restricted: refused in v9, allowed via an authoriser in v10', () => {
    const v9 = new TestRoom('9', { joinRule: 'knock_restricted' });
    expectRefused(v9.check(via(v9, ALICE)), /does not allow joining/);
    const v10 = new TestRoom('10', { joinRule: 'knock_restricted' });
    expectAllowed(v10.check(via(v10, ALICE)));
  });

  it('v12: a creator (no PL entry) can authorise a restricted join', () => {
    const room = new TestRoom('12', { joinRule: 'restricted', powerLevels: { users: {}, invite: 100 } });
    expectAllowed(room.check(via(room, ALICE)));
    room.member(CAROL, 'join');
    expectRefused(room.check(via(room, CAROL)), /cannot invite/);
  });
});

describe('auth rules: knock', () => {
  it('v6: knock membership is unknown; v7: allowed on a knock room', () => {
    const v6 = new TestRoom('6', { joinRule: 'knock' });
    expectRefused(v6.check(v6.membership(BOB, BOB, 'knock')), /unknown membership/);
    const v7 = new TestRoom('7', { joinRule: 'knock' });
    expectAllowed(v7.check(v7.membership(BOB, BOB, 'knock')));
  });

  it('v7: knocking on a room whose join rule is not knock is refused', () => {
    const room = new TestRoom('7', { joinRule: 'public' });
    expectRefused(room.check(room.membership(BOB, BOB, 'knock')), /does not allow knocking/);
  });

  it('knock_restricted allows knocking in v10, not in v9', () => {
    const v9 = new TestRoom('9', { joinRule: 'knock_restricted' });
    expectRefused(v9.check(v9.membership(BOB, BOB, 'knock')), /does not allow knocking/);
    const v10 = new TestRoom('10', { joinRule: 'knock_restricted' });
    expectAllowed(v10.check(v10.membership(BOB, BOB, 'knock')));
  });

  it('knocking for another user is refused', () => {
    const room = new TestRoom('11', { joinRule: 'knock' });
    expectRefused(room.check(room.membership(ALICE, BOB, 'knock')), /behalf/);
  });

  for (const m of ['ban', 'invite', 'join']) {
    it(`a user whose membership is ${m} cannot knock`, () => {
      const room = new TestRoom('11', { joinRule: 'knock' });
      room.member(BOB, m);
      expectRefused(room.check(room.membership(BOB, BOB, 'knock')), /cannot knock while/);
      room.member(BOB, 'leave');
      expectAllowed(room.check(room.membership(BOB, BOB, 'knock')));
    });
  }
});
