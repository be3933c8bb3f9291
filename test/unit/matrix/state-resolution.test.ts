import { createHash } from 'node:crypto';
import { expect } from 'chai';
import {
  authChain,
  authDifference,
  conflictedSubgraph,
  isPowerEvent,
  MissingEventError,
  resolveState,
  separate,
} from '../../../src/matrix/state-resolution.js';
import { checkAuth } from '../../../src/matrix/auth-rules.js';
import { stateKeyOf } from '../../../src/matrix/types.js';
import {
  ALICE,
  BOB,
  CHARLIE,
  CREATE,
  Dag,
  EVELYN,
  JR,
  MEMBER,
  MESSAGE,
  PL,
  PL_KEY,
  TOPIC,
  TOPIC_KEY,
  ZARA,
  ban,
  expectChanges,
  id,
  initialRoom,
  join,
  leave,
  member,
  version,
} from './state-res-dag.js';

describe('state resolution', () => {
  // Scenarios of Synapse's tests/state/test_v2.py, rebuilt on the Dag of state-res-dag.ts. Each runs in a
  // v2 room version of each era, and in room version 12 (state resolution v2.1).
  for (const vid of ['2', '6', '11', '12']) {
    describe(`classic v2 scenarios in room version ${vid}`, () => {
      const v = version(vid);

      it('ban vs power levels: the ban wins and the banned moderator\'s power change is dropped', () => {
        const d = initialRoom(v);
        d.add('PA', PL, ALICE, '', { users: d.users({ [ALICE]: 100, [BOB]: 50 }) }, ['START']);
        d.add('MA', MEMBER, ALICE, ALICE, join, ['PA']);
        d.add('MB', MEMBER, ALICE, BOB, ban, ['MA']);
        d.add('PB', PL, BOB, '', { users: d.users({ [ALICE]: 100, [BOB]: 50 }) }, ['PA']);
        expectChanges(d, d.stateBefore(['MB', 'PB']), ['PA', 'MA', 'MB']);
      });

      it('join rule evasion: a join racing a switch to invite-only is refused', () => {
        const d = initialRoom(v);
        d.add('JR', JR, ALICE, '', { join_rule: 'invite' }, ['START']);
        d.add('ME', MEMBER, EVELYN, EVELYN, join, ['START']);
        const end = d.stateBefore(['JR', 'ME']);
        expectChanges(d, end, ['JR']);
        expect(end.has(member(EVELYN))).to.equal(false);
      });

      it('offtopic power levels: a chain of valid delegations beats the older fork', () => {
        const d = initialRoom(v);
        d.add('PA', PL, ALICE, '', { users: d.users({ [ALICE]: 100, [BOB]: 50 }) }, ['START']);
        d.add('PB', PL, BOB, '', { users: d.users({ [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 }) }, ['PA']);
        d.add('PC', PL, CHARLIE, '', { users: d.users({ [ALICE]: 100, [BOB]: 50, [CHARLIE]: 0 }) }, ['PB']);
        expectChanges(d, d.stateBefore(['PC', 'PA']), ['PC']);
      });

      it('topic basic: a demotion invalidates the demoted user\'s later power change and topic', () => {
        const d = initialRoom(v);
        d.add('T1', TOPIC, ALICE, '', {}, ['START']);
        d.add('PA1', PL, ALICE, '', { users: d.users({ [ALICE]: 100, [BOB]: 50 }) }, ['T1']);
        d.add('T2', TOPIC, ALICE, '', {}, ['PA1']);
        d.add('PA2', PL, ALICE, '', { users: d.users({ [ALICE]: 100, [BOB]: 0 }) }, ['T2']);
        d.add('PB', PL, BOB, '', { users: d.users({ [ALICE]: 100, [BOB]: 50 }) }, ['PA1']);
        d.add('T3', TOPIC, BOB, '', {}, ['PB']);
        expectChanges(d, d.stateBefore(['PA2', 'T3']), ['PA2', 'T2']);
      });

      it('topic reset: a topic set by a user banned on the same branch falls back to the older topic', () => {
        const d = initialRoom(v);
        d.add('T1', TOPIC, ALICE, '', {}, ['START']);
        d.add('PA', PL, ALICE, '', { users: d.users({ [ALICE]: 100, [BOB]: 50 }) }, ['T1']);
        d.add('T2', TOPIC, BOB, '', {}, ['PA']);
        d.add('MB', MEMBER, ALICE, BOB, ban, ['T2']);
        expectChanges(d, d.stateBefore(['MB', 'T1']), ['T1', 'MB', 'PA']);
      });

      it('topic: a merge through a message keeps the newest valid topic', () => {
        const d = initialRoom(v);
        d.add('T1', TOPIC, ALICE, '', {}, ['START']);
        d.add('PA1', PL, ALICE, '', { users: d.users({ [ALICE]: 100, [BOB]: 50 }) }, ['T1']);
        d.add('T2', TOPIC, ALICE, '', {}, ['PA1']);
        d.add('PA2', PL, ALICE, '', { users: d.users({ [ALICE]: 100, [BOB]: 0 }) }, ['T2']);
        d.add('PB', PL, BOB, '', { users: d.users({ [ALICE]: 100, [BOB]: 50 }) }, ['PA1']);
        d.add('T3', TOPIC, BOB, '', {}, ['PB']);
        d.add('MZ1', MESSAGE, ZARA, undefined, {}, ['PA2', 'T3']);
        d.add('T4', TOPIC, ALICE, '', {}, ['MZ1']);
        expectChanges(d, d.stateBefore(['T4', 'MZ1']), ['T4', 'PA2']);
      });

      it('mainline sort: a topic based on the newer power levels beats a later-sent one', () => {
        const d = initialRoom(v);
        d.add('T1', TOPIC, ALICE, '', {}, ['START']);
        d.add('PA1', PL, ALICE, '', { users: d.users({ [ALICE]: 100, [BOB]: 50 }) }, ['T1']);
        d.add('T2', TOPIC, ALICE, '', {}, ['PA1']);
        d.add(
          'PA2',
          PL,
          ALICE,
          '',
          { users: d.users({ [ALICE]: 100, [BOB]: 50 }), events: { [PL]: 100 } },
          ['T2'],
        );
        d.add('PB', PL, BOB, '', { users: d.users({ [ALICE]: 100, [BOB]: 50 }) }, ['PA1']);
        d.add('T3', TOPIC, BOB, '', {}, ['PA2']);
        d.add('T4', TOPIC, ALICE, '', {}, ['PB']);
        // T4 is newer than T3, but it rests on PA1, older on the mainline than T3's PA2.
        expect(d.event('T4').origin_server_ts).to.be.greaterThan(d.event('T3').origin_server_ts);
        expectChanges(d, d.stateBefore(['T3', 'T4']), ['T3', 'PA2']);
      });
    });
  }
});

describe('state resolution: hand-built forks (room version 11)', () => {
  const v = version('11');

  /** START, then alice makes bob a moderator (50): the common ancestor of the forks below. */
  function withModerator(): Dag {
    const d = initialRoom(v);
    d.add('PA', PL, ALICE, '', { users: { [ALICE]: 100, [BOB]: 50 } }, ['START']);
    return d;
  }

  it('two branches change the topic: the later origin_server_ts wins at equal mainline position', () => {
    const d = withModerator();
    d.add('TA', TOPIC, ALICE, '', { topic: 'a' }, ['PA'], { ts: 2000 });
    d.add('TB', TOPIC, BOB, '', { topic: 'b' }, ['PA'], { ts: 1000 });
    // Mainline order is by ascending timestamp and the last event applied wins.
    expect(d.stateBefore(['TA', 'TB']).get(TOPIC_KEY)).to.equal(id('TA'));
    expect(d.stateBefore(['TB', 'TA']).get(TOPIC_KEY)).to.equal(id('TA'));
  });

  it('two branches change the topic at the same timestamp: the greater event ID wins', () => {
    const d = withModerator();
    d.add('T2', TOPIC, ALICE, '', { topic: 'a' }, ['PA'], { ts: 5000 });
    d.add('T1', TOPIC, BOB, '', { topic: 'b' }, ['PA'], { ts: 5000 });
    expect(d.stateBefore(['T1', 'T2']).get(TOPIC_KEY)).to.equal(id('T2'));
    expect(d.stateBefore(['T2', 'T1']).get(TOPIC_KEY)).to.equal(id('T2'));
  });

  it('power events are ordered by sender power before timestamp', () => {
    const d = withModerator();
    // Bob (50) sends first; alice (100) second. Both are valid in either order, so whichever is
    // applied last wins: that must be bob's, because alice's higher power sorts hers first.
    d.add('PALICE', PL, ALICE, '', { users: { [ALICE]: 100, [BOB]: 50 }, events: { [TOPIC]: 50 } }, ['PA'], {
      ts: 2000,
    });
    d.add('PBOB', PL, BOB, '', { users: { [ALICE]: 100, [BOB]: 50 }, events: { 'm.room.name': 50 } }, ['PA'], {
      ts: 1000,
    });
    expect(d.stateBefore(['PALICE', 'PBOB']).get(PL_KEY)).to.equal(id('PBOB'));
  });

  it('a ban on one branch beats a message-power change by the banned moderator on the other', () => {
    const d = withModerator();
    d.add('MB', MEMBER, ALICE, BOB, ban, ['PA']);
    d.add('PMSG', PL, BOB, '', { users: { [ALICE]: 100, [BOB]: 50 }, events: { [MESSAGE]: 50 } }, ['PA']);
    const end = d.stateBefore(['MB', 'PMSG']);
    expect(end.get(member(BOB))).to.equal(id('MB'));
    expect(end.get(PL_KEY)).to.equal(id('PA'));
  });

  it('a demotion racing actions by the demoted user voids those actions', () => {
    const d = withModerator();
    d.add('PD', PL, ALICE, '', { users: { [ALICE]: 100, [BOB]: 0 } }, ['PA']);
    d.add('TB', TOPIC, BOB, '', { topic: 'bob was here' }, ['PA']);
    d.add('KC', MEMBER, BOB, CHARLIE, leave, ['TB']);
    const end = d.stateBefore(['PD', 'KC']);
    expect(end.get(PL_KEY)).to.equal(id('PD'));
    expect(end.has(TOPIC_KEY), 'topic by the demoted user').to.equal(false);
    expect(end.get(member(CHARLIE)), 'kick by the demoted user').to.equal(id('IMC'));
    // Without the demotion the same actions stand.
    const alone = d.stateBefore(['KC', 'PA']);
    expect(alone.get(member(CHARLIE))).to.equal(id('KC'));
    expect(alone.get(TOPIC_KEY)).to.equal(id('TB'));
  });

  it('is independent of the order of the state sets', () => {
    const d = withModerator();
    d.add('PD', PL, ALICE, '', { users: { [ALICE]: 100, [BOB]: 0 } }, ['PA']);
    d.add('TB', TOPIC, BOB, '', {}, ['PA']);
    d.add('TC', TOPIC, ALICE, '', {}, ['PA']);
    const sets = [d.stateAfter('PD'), d.stateAfter('TB'), d.stateAfter('TC')];
    const a = resolveState(v, sets, d.events);
    const b = resolveState(v, [sets[2]!, sets[0]!, sets[1]!], d.events);
    expect(Object.fromEntries(b)).to.deep.equal(Object.fromEntries(a));
    expect(a.get(TOPIC_KEY)).to.equal(id('TC'));
  });

  it('returns the common state unchanged when there is no conflict', () => {
    const d = withModerator();
    const s = d.stateAfter('PA');
    const out = resolveState(v, [s, new Map(s)], d.events);
    expect(Object.fromEntries(out)).to.deep.equal(Object.fromEntries(s));
    expect(out).to.not.equal(s);
  });

  it('throws naming a missing auth chain event', () => {
    const d = withModerator();
    d.add('TA', TOPIC, ALICE, '', {}, ['PA']);
    d.add('TB', TOPIC, BOB, '', {}, ['PA']);
    const events = new Map(d.events);
    events.delete(id('PA'));
    const sets = [d.stateAfter('TA'), d.stateAfter('TB')];
    const call = () => resolveState(v, sets, events);
    expect(call).to.throw(MissingEventError, id('PA'));
    try {
      call();
    } catch (e) {
      expect((e as MissingEventError).eventId).to.equal(id('PA'));
    }
  });

  it('does not use rejected events as auth events', () => {
    const d = withModerator();
    d.add('TB', TOPIC, BOB, '', {}, ['PA']);
    const sets = [d.stateAfter('PA'), d.stateAfter('TB')];
    expect(resolveState(v, sets, d.events).get(TOPIC_KEY)).to.equal(id('TB'));
    // With PA rejected, bob has no power levels event granting him 50, so his topic fails.
    const out = resolveState(v, sets, d.events, { isRejected: (e) => e === id('PA') });
    expect(out.has(TOPIC_KEY)).to.equal(false);
  });

  it('accepts an injected auth check', () => {
    const d = withModerator();
    d.add('TA', TOPIC, ALICE, '', {}, ['PA'], { ts: 1 });
    d.add('TB', TOPIC, BOB, '', {}, ['PA'], { ts: 2 });
    const sets = [d.stateAfter('TA'), d.stateAfter('TB')];
    const seen: string[] = [];
    const out = resolveState(v, sets, d.events, {
      checkAuth: (ev) => {
        seen.push(ev.event_id);
        return ev.event_id === id('TB') ? { allowed: false, reason: 'test' } : { allowed: true };
      },
    });
    expect(out.get(TOPIC_KEY)).to.equal(id('TA'));
    expect(seen).to.include.members([id('TA'), id('TB')]);
  });
});

describe('state resolution v2.1 (room version 12)', () => {
  it('creators sort first with infinite power, changing which power levels event wins', () => {
    const results = new Map<string, string | undefined>();
    for (const vid of ['11', '12']) {
      const v = version(vid);
      const d = initialRoom(v);
      // Bob is an explicit 100; in v11 alice is an explicit 100 too, in v12 she is the creator.
      const users = d.users({ [ALICE]: 100, [BOB]: 100 });
      d.add('PA', PL, ALICE, '', { users }, ['START']);
      // Two changes valid in either order, so whichever is applied last wins. Bob's is older.
      d.add('PBOB', PL, BOB, '', { users, events: { 'm.room.name': 100 } }, ['PA'], { ts: 1000 });
      d.add('PALICE', PL, ALICE, '', { users, events: { [TOPIC]: 50 } }, ['PA'], { ts: 2000 });
      results.set(vid, d.stateBefore(['PBOB', 'PALICE']).get(PL_KEY));
    }
    // v11: equal power, so bob's earlier timestamp sorts first and alice's is applied last.
    expect(results.get('11')).to.equal(id('PALICE'));
    // v12: alice, a creator, has infinite power and sorts first whatever the timestamps.
    expect(results.get('12')).to.equal(id('PBOB'));
  });

  it('iterative auth checks start from an empty state: an unconflicted later ban does not void earlier power', () => {
    const results = new Map<string, string | undefined>();
    for (const vid of ['11', '12']) {
      const v = version(vid);
      const d = initialRoom(v);
      d.add('PA', PL, ALICE, '', { users: d.users({ [ALICE]: 100, [BOB]: 50 }) }, ['START']);
      d.add('PB', PL, BOB, '', { users: d.users({ [ALICE]: 100, [BOB]: 50 }), events: { 'm.room.name': 50 } }, ['PA']);
      d.add('MB', MEMBER, ALICE, BOB, ban, ['PB']);
      // A second view of the room that has the ban but still the older power levels (as a
      // faulty or malicious server could claim): the ban is unconflicted, the power levels not.
      const real = d.stateAfter('MB');
      const claimed = new Map(real);
      claimed.set(PL_KEY, id('PA'));
      const out = resolveState(v, [real, claimed], d.events);
      expect(out.get(member(BOB))).to.equal(id('MB'));
      results.set(vid, out.get(PL_KEY));
    }
    // v2 checks PB against the unconflicted state, where bob is already banned.
    expect(results.get('11')).to.equal(id('PA'));
    // v2.1 checks PB against its own auth events, where bob was still a joined moderator.
    expect(results.get('12')).to.equal(id('PB'));
  });

  it('MSC4297 problem A: an outdated join rules event no longer wipes the join rules', () => {
    const results = new Map<string, string | undefined>();
    for (const vid of ['11', '12']) {
      const v = version(vid);
      const d = initialRoom(v);
      d.add('JR1', JR, ALICE, '', { join_rule: 'invite' }, ['START']);
      d.add('JR2', JR, ALICE, '', { join_rule: 'public' }, ['JR1']);
      d.add('LA', MEMBER, ALICE, ALICE, leave, ['JR2']);
      // Both views agree alice left; one (from a partial /state response) has the older rules.
      const real = d.stateAfter('LA');
      const outdated = new Map(real);
      outdated.set(stateKeyOf(JR, ''), id('JR1'));
      const out = resolveState(v, [real, outdated], d.events);
      expect(out.get(member(ALICE))).to.equal(id('LA'));
      results.set(vid, out.get(stateKeyOf(JR, '')));
    }
    // v2 replays both join rules on top of "alice has left": both fail and the key is lost.
    expect(results.get('11')).to.equal(undefined);
    // v2.1 replays them on their own auth events, where alice was joined.
    expect(results.get('12')).to.equal(id('JR2'));
  });

  it('re-checks the power levels between two conflicted ones (conflicted state subgraph)', () => {
    const results = new Map<string, string | undefined>();
    for (const vid of ['11', '12']) {
      const v = version(vid);
      const d = initialRoom(v);
      d.add('PL1', PL, ALICE, '', { users: d.users({ [ALICE]: 100, [BOB]: 0 }) }, ['START']);
      d.add('PL2', PL, ALICE, '', { users: d.users({ [ALICE]: 100, [BOB]: 100 }) }, ['PL1']);
      // An unconflicted event citing PL2 keeps PL2 in every auth chain, out of the auth difference.
      d.add('MC', MEMBER, CHARLIE, CHARLIE, { membership: 'join', displayname: 'C' }, ['PL2']);
      d.add('PL3', PL, BOB, '', { users: d.users({ [ALICE]: 100, [BOB]: 100 }), events: { 'm.room.name': 100 } }, [
        'MC',
      ]);
      // A view that rolled the power levels back to PL1 (a state reset).
      const real = d.stateAfter('PL3');
      const reset = new Map(real);
      reset.set(PL_KEY, id('PL1'));
      results.set(vid, resolveState(v, [real, reset], d.events).get(PL_KEY));
    }
    // v2: PL2 is not in the full conflicted set, so PL3 is checked with PL1 in force (bob at 0).
    expect(results.get('11')).to.equal(id('PL1'));
    // v2.1: PL2 lies on the path PL3 -> PL2 -> PL1, is re-applied, and PL3 (bob at 100) passes.
    expect(results.get('12')).to.equal(id('PL3'));
  });

  it('puts the conflicted state subgraph into the full conflicted set', () => {
    // Chain CREATE <- IMA <- PL1 <- PL2 <- PL3 in one state set: PL1 and PL3 conflicted, PL2
    // between them. Both sets cite PL2 in some auth chain, so it is not in the auth difference.
    const v = version('12');
    const d = initialRoom(v);
    d.add('PL1', PL, ALICE, '', { users: { [BOB]: 10 } }, ['START']);
    d.add('PL2', PL, ALICE, '', { users: { [BOB]: 20 } }, ['PL1']);
    d.add('PL3', PL, ALICE, '', { users: { [BOB]: 30 } }, ['PL2']);
    expect([...conflictedSubgraph(new Set([id('PL1'), id('PL3')]), d.events, v)].sort()).to.deep.equal(
      [id('PL1'), id('PL2'), id('PL3')].sort(),
    );
    expect([...conflictedSubgraph(new Set([id('PL3')]), d.events, v)]).to.deep.equal([id('PL3')]);
    // IMB and IMC are both reached from the create event, but no path joins them.
    expect([...conflictedSubgraph(new Set([id('IMB'), id('IMC')]), d.events, v)].sort()).to.deep.equal(
      [id('IMB'), id('IMC')].sort(),
    );
  });
});

describe('state resolution helpers', () => {
  it('separate: a key is unconflicted only if every set has the same event for it', () => {
    const a = new Map([
      ['k1', '$1'],
      ['k2', '$2'],
      ['k3', '$3'],
    ]);
    const b = new Map([
      ['k1', '$1'],
      ['k2', '$5'],
    ]);
    const { unconflicted, conflicted } = separate([a, b]);
    expect(Object.fromEntries(unconflicted)).to.deep.equal({ k1: '$1' });
    expect([...conflicted.keys()].sort()).to.deep.equal(['k2', 'k3']);
    expect([...conflicted.get('k2')!].sort()).to.deep.equal(['$2', '$5']);
    expect([...conflicted.get('k3')!]).to.deep.equal(['$3']);
  });

  it('authChain: all auth events, recursively, without the starting event', () => {
    const d = initialRoom(version('11'));
    const chain = authChain([id('IMB')], d.events);
    expect([...chain].sort()).to.deep.equal([id('CREATE'), id('IJR'), id('IMA'), id('IPOWER')].sort());
    expect(authChain([id('CREATE')], d.events).size).to.equal(0);
    expect(() => authChain([id('NOPE')], d.events)).to.throw(MissingEventError, id('NOPE'));
  });

  it('authChain: in room version 12 the create event named by the room ID is in the chain', () => {
    const v = version('12');
    const d = initialRoom(v);
    expect(d.event('IMB').auth_events).to.not.include(id('CREATE'));
    const expected = [id('CREATE'), id('IJR'), id('IMA'), id('IPOWER')].sort();
    expect([...authChain([id('IMB')], d.events, v)].sort()).to.deep.equal(expected);
    // Without a version the implied create event is still found, as it is in the map.
    expect([...authChain([id('IMB')], d.events)].sort()).to.deep.equal(expected);
    const withoutCreate = new Map(d.events);
    withoutCreate.delete(id('CREATE'));
    expect(() => authChain([id('IMB')], withoutCreate, v)).to.throw(MissingEventError, id('CREATE'));
  });

  it('authDifference: events in some but not all full auth chains (state events included)', () => {
    const d = initialRoom(version('11'));
    d.add('PA', PL, ALICE, '', { users: { [ALICE]: 100, [BOB]: 50 } }, ['START']);
    d.add('TA', TOPIC, ALICE, '', {}, ['PA']);
    d.add('TB', TOPIC, BOB, '', {}, ['START'], { unchecked: true });
    const diff = authDifference([d.stateAfter('TA'), d.stateAfter('TB')], d.events);
    expect([...diff].sort()).to.deep.equal([id('PA'), id('TA'), id('TB')].sort());
  });

  it('isPowerEvent: create, power levels, join rules, kicks and bans only', () => {
    const d = initialRoom(version('11'));
    d.add('KICK', MEMBER, ALICE, BOB, leave, ['START']);
    d.add('BAN', MEMBER, ALICE, CHARLIE, ban, ['KICK']);
    d.add('SELF', MEMBER, ZARA, ZARA, leave, ['BAN']);
    d.add('T', TOPIC, ALICE, '', {}, ['SELF']);
    const power = ['CREATE', 'IPOWER', 'IJR', 'KICK', 'BAN'];
    for (const node of [...power, 'SELF', 'T', 'IMB', 'START']) {
      expect(isPowerEvent(d.event(node)), node).to.equal(power.includes(node));
    }
  });

});

describe('state resolution v1 (room version 1)', () => {
  const v = version('1');
  const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

  it('for ordinary state the deeper event wins, whatever its timestamp', () => {
    const d = initialRoom(v);
    d.add('TA', TOPIC, ALICE, '', {}, ['START'], { ts: 9000 });
    d.add('M1', MESSAGE, ALICE, undefined, {}, ['START']);
    d.add('TB', TOPIC, ALICE, '', {}, ['M1'], { ts: 10 });
    expect(d.event('TB').depth).to.be.greaterThan(d.event('TA').depth);
    expect(d.stateBefore(['TA', 'TB']).get(TOPIC_KEY)).to.equal(id('TB'));
  });

  it('at equal depth the lowest sha1(event_id) wins', () => {
    const d = initialRoom(v);
    d.add('TA', TOPIC, ALICE, '', {}, ['START']);
    d.add('TB', TOPIC, ALICE, '', {}, ['START']);
    const want = sha1(id('TA')) < sha1(id('TB')) ? id('TA') : id('TB');
    expect(d.stateBefore(['TA', 'TB']).get(TOPIC_KEY)).to.equal(want);
    expect(d.stateBefore(['TB', 'TA']).get(TOPIC_KEY)).to.equal(want);
  });

  it('power levels: walks up by depth and stops at the first change not allowed', () => {
    const d = initialRoom(v);
    d.add('PA', PL, ALICE, '', { users: { [ALICE]: 100, [BOB]: 50 } }, ['START']);
    d.add('PD', PL, ALICE, '', { users: { [ALICE]: 100, [BOB]: 0 } }, ['PA']);
    d.add('M1', MESSAGE, BOB, undefined, {}, ['PA']);
    d.add('PB', PL, BOB, '', { users: { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 10 } }, ['M1']);
    // PD (shallower) is applied first; bob, now at 0, cannot make PB.
    expect(d.stateBefore(['PD', 'PB']).get(PL_KEY)).to.equal(id('PD'));
    // Against PA (shallower) bob's PB is allowed, so the deeper PB wins.
    d.add('M2', MESSAGE, ALICE, undefined, {}, ['PA']);
    expect(d.stateBefore(['M2', 'PB']).get(PL_KEY)).to.equal(id('PB'));
    // The walk stops at PB: alice's even deeper PZ, valid on its own, is never reached.
    d.add('M3', MESSAGE, ALICE, undefined, {}, ['M1']);
    d.add('PZ', PL, ALICE, '', { users: { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 20 } }, ['M3']);
    expect(d.event('PZ').depth).to.be.greaterThan(d.event('PB').depth);
    const sets = [d.stateAfter('PD'), d.stateAfter('PB'), d.stateAfter('PZ')];
    expect(resolveState(v, sets, d.events).get(PL_KEY)).to.equal(id('PD'));
  });

  it('a key present in only some state sets is not a conflict', () => {
    const d = initialRoom(v);
    d.add('TA', TOPIC, ALICE, '', {}, ['START']);
    d.add('M1', MESSAGE, ALICE, undefined, {}, ['START']);
    // The topic is not re-authorised: even a check refusing everything keeps it.
    const out = resolveState(v, [d.stateAfter('TA'), d.stateAfter('M1')], d.events, {
      checkAuth: () => ({ allowed: false, reason: 'test' }),
    });
    expect(out.get(TOPIC_KEY)).to.equal(id('TA'));
  });
});

describe('state resolution performance', () => {
  it('resolves a 2000-member room with 300 bans racing 300 profile changes quickly', function () {
    this.timeout(30000);
    const v = version('11');
    const d = initialRoom(v);
    let prev = 'START';
    const users: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const user = `@u${i}:example.com`;
      users.push(user);
      d.add(`J${i}`, MEMBER, user, user, join, [prev]);
      prev = `J${i}`;
    }
    const fork = prev;
    let a = fork;
    let b = fork;
    for (let i = 0; i < 300; i++) {
      d.add(`BAN${i}`, MEMBER, ALICE, users[i]!, ban, [a]);
      a = `BAN${i}`;
      d.add(`NAME${i}`, MEMBER, users[i]!, users[i]!, { membership: 'join', displayname: `n${i}` }, [b]);
      b = `NAME${i}`;
    }
    const sets = [d.stateAfter(a), d.stateAfter(b)];
    const t0 = performance.now();
    const out = resolveState(v, sets, d.events);
    const ms = performance.now() - t0;
    for (let i = 0; i < 300; i++) expect(out.get(member(users[i]!))).to.equal(id(`BAN${i}`));
    expect(out.get(member(users[300]!))).to.equal(id('J300'));
    if (process.env.STATE_RES_BENCH) console.log(`resolveState: ${ms.toFixed(1)} ms`);
    expect(ms, `took ${ms.toFixed(0)} ms`).to.be.lessThan(2000);
  });
});
