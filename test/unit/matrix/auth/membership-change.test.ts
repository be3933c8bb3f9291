import { ALICE, BOB, CAROL, DAVE, TestRoom, expectAllowed, expectRefused } from './helpers.js';

describe('auth rules: invite', () => {
  it('a joined user with the invite level may invite', () => {
    const room = new TestRoom('11');
    expectAllowed(room.check(room.membership(ALICE, BOB, 'invite')));
  });

  it('a sender who is not joined cannot invite', () => {
    const room = new TestRoom('11');
    room.member(CAROL, 'invite');
    expectRefused(room.check(room.membership(CAROL, BOB, 'invite')), /not joined/);
  });

  it('a joined or banned target cannot be invited', () => {
    const room = new TestRoom('11');
    room.member(BOB, 'join');
    expectRefused(room.check(room.membership(ALICE, BOB, 'invite')), /already joined/);
    room.member(BOB, 'ban');
    expectRefused(room.check(room.membership(ALICE, BOB, 'invite')), /already banned/);
  });

  it('a sender below the invite level cannot invite', () => {
    const room = new TestRoom('11', { powerLevels: { users: { [ALICE]: 100 }, invite: 50 } });
    room.member(CAROL, 'join');
    expectRefused(room.check(room.membership(CAROL, BOB, 'invite')), /invite level/);
    room.setPowerLevels({ users: { [ALICE]: 100, [CAROL]: 50 }, invite: 50 });
    expectAllowed(room.check(room.membership(CAROL, BOB, 'invite')));
  });
});

describe('auth rules: leave and kick', () => {
  it('a joined, invited (and from v7 knocking) user may leave', () => {
    for (const m of ['join', 'invite']) {
      const room = new TestRoom('6');
      room.member(BOB, m);
      expectAllowed(room.check(room.membership(BOB, BOB, 'leave')));
    }
    const v7 = new TestRoom('7', { joinRule: 'knock' });
    v7.member(BOB, 'knock');
    expectAllowed(v7.check(v7.membership(BOB, BOB, 'leave')));
  });

  it('v6: a knock membership cannot leave (knocking does not exist)', () => {
    const room = new TestRoom('6');
    room.member(BOB, 'knock');
    expectRefused(room.check(room.membership(BOB, BOB, 'leave')), /cannot leave/);
  });

  it('a user not in the room (or banned) cannot leave it', () => {
    const room = new TestRoom('11');
    expectRefused(room.check(room.membership(BOB, BOB, 'leave')), /cannot leave/);
    room.member(BOB, 'ban');
    expectRefused(room.check(room.membership(BOB, BOB, 'leave')), /cannot leave/);
  });

  it('kick: allowed with the kick level over a lower user, refused over an equal one', () => {
    const room = new TestRoom('11', { powerLevels: { users: { [ALICE]: 100, [CAROL]: 100 }, kick: 50 } });
    room.member(BOB, 'join');
    room.member(CAROL, 'join');
    expectAllowed(room.check(room.membership(ALICE, BOB, 'leave')));
    expectRefused(room.check(room.membership(ALICE, CAROL, 'leave')), /cannot kick/);
  });

  it('kick: refused below the kick level, and when the sender is not joined', () => {
    const room = new TestRoom('11', { powerLevels: { users: { [ALICE]: 100, [CAROL]: 40 }, kick: 50 } });
    room.member(BOB, 'join');
    room.member(CAROL, 'join');
    expectRefused(room.check(room.membership(CAROL, BOB, 'leave')), /cannot kick/);
    room.member(ALICE, 'leave');
    expectRefused(room.check(room.membership(ALICE, BOB, 'leave')), /not joined/);
  });

  it('unban needs the ban level as well as the kick level', () => {
    const room = new TestRoom('11', { powerLevels: { users: { [ALICE]: 100, [CAROL]: 60 }, kick: 50, ban: 70 } });
    room.member(CAROL, 'join');
    room.member(BOB, 'ban');
    expectRefused(room.check(room.membership(CAROL, BOB, 'leave')), /ban level/);
    expectAllowed(room.check(room.membership(ALICE, BOB, 'leave')));
  });
});

describe('auth rules: ban', () => {
  it('allowed with the ban level over a lower user; refused over an equal one or below the level', () => {
    const room = new TestRoom('11', { powerLevels: { users: { [ALICE]: 100, [CAROL]: 40, [DAVE]: 100 }, ban: 50 } });
    room.member(CAROL, 'join');
    room.member(DAVE, 'join');
    expectAllowed(room.check(room.membership(ALICE, BOB, 'ban')));
    expectRefused(room.check(room.membership(ALICE, DAVE, 'ban')), /cannot ban/);
    expectRefused(room.check(room.membership(CAROL, BOB, 'ban')), /cannot ban/);
  });

  it('a sender who is not joined cannot ban', () => {
    const room = new TestRoom('11');
    room.member(ALICE, 'leave');
    expectRefused(room.check(room.membership(ALICE, BOB, 'ban')), /not joined/);
  });

  it('v11: the creator has no special power; an admin at 100 may ban them if above', () => {
    const room = new TestRoom('11', { powerLevels: { users: { [ALICE]: 50, [DAVE]: 100 } } });
    room.member(DAVE, 'join');
    expectAllowed(room.check(room.membership(DAVE, ALICE, 'ban')));
  });
});

describe('auth rules: v12 creators', () => {
  const room12 = () => {
    const room = new TestRoom('12', { createContent: { additional_creators: [CAROL] }, powerLevels: { users: { [DAVE]: 100 } } });
    room.member(CAROL, 'join');
    room.member(DAVE, 'join');
    room.member(BOB, 'join');
    return room;
  };

  it('the creator cannot be banned or kicked, even by a user at 100', () => {
    const room = room12();
    expectRefused(room.check(room.membership(DAVE, ALICE, 'ban')), /cannot ban/);
    expectRefused(room.check(room.membership(DAVE, ALICE, 'leave')), /cannot kick/);
  });

  it('an additional creator cannot be banned either', () => {
    const room = room12();
    expectRefused(room.check(room.membership(DAVE, CAROL, 'ban')), /cannot ban/);
  });

  it('creators can ban users at any level, but not each other', () => {
    const room = room12();
    expectAllowed(room.check(room.membership(ALICE, DAVE, 'ban')));
    expectAllowed(room.check(room.membership(CAROL, DAVE, 'ban')));
    expectRefused(room.check(room.membership(ALICE, CAROL, 'ban')), /cannot ban/);
  });

  it('in v11 the same additional_creators grants nothing', () => {
    const room = new TestRoom('11', { createContent: { additional_creators: [CAROL] }, powerLevels: { users: { [ALICE]: 100 } } });
    room.member(CAROL, 'join');
    expectAllowed(room.check(room.membership(ALICE, CAROL, 'ban')));
    expectRefused(room.check(room.membership(CAROL, BOB, 'ban')), /cannot ban/);
  });
});
