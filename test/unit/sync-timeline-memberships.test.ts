import { expect } from 'chai';
import type { StoredEvent } from '../../src/storage/events.js';
import type { JsonObject, RoomEvent } from '../../src/matrix/types.js';
import { walkMemberships, withoutMembership, type LatestMembership } from '../../src/services/sync/timeline-memberships.js';

const BOB = '@bob:here';

function stored(id: string, stream: number, opts: { sender?: string; member?: string; replaces?: string; prev?: string; depth?: number } = {}): StoredEvent {
  const event = {
    event_id: id,
    room_id: '!r:here',
    sender: opts.sender ?? '@alice:here',
    type: opts.member ? 'm.room.member' : 'm.room.message',
    content: opts.member ? { membership: opts.member } : { body: id },
    origin_server_ts: stream,
    ...(opts.member ? { state_key: BOB } : {}),
  } as unknown as RoomEvent;
  const unsigned: JsonObject | null = opts.replaces ? { replaces_state: opts.replaces, ...(opts.prev ? { prev_content: { membership: opts.prev } } : {}) } : null;
  return { event, roomVersion: '10', streamOrdering: stream, topologicalOrdering: opts.depth ?? stream, unsigned, stateGroupBefore: stream, stateGroupAfter: stream, rejected: false, outlier: false };
}

const ids = (events: StoredEvent[]) => events.map((e) => e.event.event_id);

describe('sync: unsigned.membership from the timeline page', () => {
  // $1 before Bob; invite; $2; join; $3; leave; $4; rejoin; $5
  const page = [
    stored('$1', 1),
    stored('$invite', 2, { member: 'invite' }),
    stored('$2', 3),
    stored('$join', 4, { member: 'join', sender: BOB, replaces: '$invite', prev: 'invite' }),
    stored('$3', 5),
    stored('$leave', 6, { member: 'leave', sender: BOB, replaces: '$join', prev: 'join' }),
    stored('$4', 7),
    stored('$rejoin', 8, { member: 'join', sender: BOB, replaces: '$leave', prev: 'leave' }),
    stored('$5', 9),
  ];
  const latest: LatestMembership = { eventId: '$rejoin', membership: 'join', stream: 8 };

  it('walks back through the user\'s own member events, each giving the membership it replaced', () => {
    const walk = walkMemberships(BOB, { events: page, latest, gapless: true });
    expect(Object.fromEntries(walk.memberships)).to.deep.equal({
      $1: 'leave', $invite: 'invite', $2: 'invite', $join: 'join', $3: 'join', $leave: 'leave', $4: 'leave', $rejoin: 'join', $5: 'join',
    });
    expect(walk.fromState).to.deep.equal([]);
    expect(walk.remoteAfter).to.deep.equal([]);
    expect(walk.latestEvent?.event.event_id).to.equal('$rejoin');
  });

  it('leaves to the state what a gap hides: a filtered page, a chain that does not link up, a page without the member event', () => {
    const filtered = walkMemberships(BOB, { events: page, latest, gapless: false });
    expect(filtered.memberships.get('$5')).to.equal('join');
    expect(filtered.memberships.get('$rejoin')).to.equal('join');
    expect(ids(filtered.fromState)).to.deep.equal(ids(page.slice(0, 7)));

    // A gapless page cannot lack the leave; were the chain not to link up anyway (stream order
    // disagreeing with the DAG), the walk hands the state everything from the mismatch back.
    const broken = walkMemberships(BOB, { events: page.filter((e) => e.event.event_id !== '$leave'), latest, gapless: true });
    expect(broken.memberships.get('$4')).to.equal('leave');
    expect(ids(broken.fromState)).to.deep.equal(['$1', '$invite', '$2', '$join']);

    const messagesOnly = walkMemberships(BOB, { events: page.filter((e) => e.event.type === 'm.room.message'), latest, gapless: true });
    expect(messagesOnly.memberships.get('$5')).to.equal('join');
    expect(ids(messagesOnly.fromState)).to.deep.equal(['$1', '$2', '$3', '$4']);
  });

  it('needs no state for a page after the latest member event, but marks remote events that may be concurrent with it', () => {
    const after = [stored('$6', 10), stored('$remote', 11, { sender: '@carol:elsewhere', depth: 7 }), stored('$7', 12)];
    const walk = walkMemberships(BOB, { events: after, latest, gapless: true });
    expect([...walk.memberships.values()]).to.deep.equal(['join', 'join', 'join']);
    expect(ids(walk.remoteAfter)).to.deep.equal(['$remote']);
    expect(walk.fromState).to.deep.equal([]);
    expect(walk.latestEvent).to.equal(undefined);
  });

  it('strips unsigned.membership from state without touching the timeline copy', () => {
    const ev = { event_id: '$s', unsigned: { age: 1, membership: 'join' } };
    const stripped = withoutMembership(ev);
    expect(stripped.unsigned).to.deep.equal({ age: 1 });
    expect(ev.unsigned.membership).to.equal('join');
    const bare = { event_id: '$t' };
    expect(withoutMembership(bare)).to.equal(bare);
  });
});
