/**
 * State resolution details where the spec's wording leaves room and the servers a room must
 * converge with (Synapse, Ruma) agree on one reading.
 */
import { expect } from 'chai';
import { isPowerEvent } from '../../../src/matrix/state-resolution.js';
import { ALICE, BOB, CREATE, JR, PL, TOPIC, TOPIC_KEY, id, initialRoom, version } from './state-res-dag.js';

describe('state resolution: power events and event ID order', () => {
  // spec: Room Version 2 "Power events" names the types only; Synapse's and Ruma's resolvers
  // count the create event and require the empty state key, and which events are power events
  // decides which are resolved first, in power order, together with their auth chains.
  it('isPowerEvent: power levels, join rules and create only with the empty state key', () => {
    const d = initialRoom(version('11'));
    d.add('PLX', PL, ALICE, 'x', { users: { [ALICE]: 100 } }, ['START']);
    d.add('JRX', JR, ALICE, 'x', { join_rule: 'public' }, ['PLX']);
    d.add('CX', CREATE, ALICE, 'x', {}, ['JRX'], { unchecked: true });
    for (const node of ['PLX', 'JRX', 'CX']) expect(isPowerEvent(d.event(node)), node).to.equal(false);
    for (const node of ['CREATE', 'IPOWER', 'IJR']) expect(isPowerEvent(d.event(node)), node).to.equal(true);
  });

  // Room versions 1-2 let servers choose event IDs, so they may hold any code point. The spec
  // compares IDs as strings, which Synapse (Python) does by code point: U+E000 sorts before
  // U+10000, whose UTF-16 form (a surrogate pair, 0xD800 0xDC00) JavaScript's `<` puts first.
  it('room version 2: equal timestamps are ordered by event ID in code point order', () => {
    const d = initialRoom(version('2'));
    d.add('PA', PL, ALICE, '', { users: { [ALICE]: 100, [BOB]: 50 } }, ['START']);
    const bmp = '\uE000:example.com';
    const astral = '\u{10000}:example.com';
    d.add(bmp, TOPIC, ALICE, '', { topic: 'a' }, ['PA'], { ts: 5000 });
    d.add(astral, TOPIC, BOB, '', { topic: 'b' }, ['PA'], { ts: 5000 });
    // The mainline order applies the greater ID last, so it wins.
    expect(d.stateBefore([bmp, astral]).get(TOPIC_KEY)).to.equal(id(astral));
    expect(d.stateBefore([astral, bmp]).get(TOPIC_KEY)).to.equal(id(astral));
  });
});
