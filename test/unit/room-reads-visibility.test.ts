import { expect } from 'chai';
import {
  allowedBy,
  historyVisibilityOf,
  isEventVisible,
  joinedAfter,
  type HistoryVisibility,
} from '../../src/services/rooms/visibility.js';

describe('rooms: history visibility rules', () => {
  describe('historyVisibilityOf', () => {
    it('reads the four known values', () => {
      for (const v of ['world_readable', 'shared', 'invited', 'joined']) expect(historyVisibilityOf({ history_visibility: v })).to.equal(v);
    });
    it('treats a missing or unknown value as shared (spec)', () => {
      expect(historyVisibilityOf(undefined)).to.equal('shared');
      expect(historyVisibilityOf({})).to.equal('shared');
      expect(historyVisibilityOf({ history_visibility: 'everyone' })).to.equal('shared');
      expect(historyVisibilityOf({ history_visibility: 3 })).to.equal('shared');
    });
  });

  describe('allowedBy: the five rules', () => {
    const all: HistoryVisibility[] = ['world_readable', 'shared', 'invited', 'joined'];
    it('1. world_readable allows anyone', () => {
      for (const m of [undefined, 'leave', 'ban', 'invite', 'knock', 'join']) expect(allowedBy('world_readable', m, false)).to.equal(true);
    });
    it('2. a joined member sees everything', () => {
      for (const v of all) expect(allowedBy(v, 'join', false)).to.equal(true);
    });
    it('3. shared allows a user who joined after the event, and no one else', () => {
      expect(allowedBy('shared', undefined, true)).to.equal(true);
      expect(allowedBy('shared', 'leave', true)).to.equal(true);
      expect(allowedBy('shared', undefined, false)).to.equal(false);
      expect(allowedBy('shared', 'leave', false)).to.equal(false);
      expect(allowedBy('invited', undefined, true)).to.equal(false);
      expect(allowedBy('joined', undefined, true)).to.equal(false);
    });
    it('4. invited allows an invited user; joined does not', () => {
      expect(allowedBy('invited', 'invite', false)).to.equal(true);
      expect(allowedBy('joined', 'invite', false)).to.equal(false);
      expect(allowedBy('shared', 'invite', false)).to.equal(false);
      expect(allowedBy('shared', 'invite', true)).to.equal(true);
    });
    it('5. otherwise denies', () => {
      for (const v of ['shared', 'invited', 'joined'] as const) {
        for (const m of [undefined, 'leave', 'ban', 'knock']) expect(allowedBy(v, m, false), `${v}/${m}`).to.equal(false);
      }
    });
  });

  describe('isEventVisible: the before-or-after exceptions', () => {
    it('shows a history_visibility event when the visibility after it allows', () => {
      // joined → world_readable, seen by a stranger
      expect(isEventVisible({ visibility: 'joined', membership: undefined, joinedAfter: false, visibilityAfter: 'world_readable' })).to.equal(true);
      // world_readable → joined, seen by a stranger (the before side allows)
      expect(isEventVisible({ visibility: 'world_readable', membership: undefined, joinedAfter: false, visibilityAfter: 'joined' })).to.equal(true);
      expect(isEventVisible({ visibility: 'joined', membership: undefined, joinedAfter: false, visibilityAfter: 'shared' })).to.equal(false);
    });
    it("shows the user's own join and leave under joined", () => {
      expect(isEventVisible({ visibility: 'joined', membership: 'invite', joinedAfter: false, membershipAfter: 'join' })).to.equal(true);
      expect(isEventVisible({ visibility: 'joined', membership: 'join', joinedAfter: false, membershipAfter: 'leave' })).to.equal(true);
      expect(isEventVisible({ visibility: 'joined', membership: undefined, joinedAfter: false, membershipAfter: 'invite' })).to.equal(false);
      expect(isEventVisible({ visibility: 'invited', membership: undefined, joinedAfter: false, membershipAfter: 'invite' })).to.equal(true);
    });
    it('without an exception, follows the plain rules', () => {
      expect(isEventVisible({ visibility: 'joined', membership: 'leave', joinedAfter: true })).to.equal(false);
      expect(isEventVisible({ visibility: 'shared', membership: 'leave', joinedAfter: true })).to.equal(true);
    });
  });

  describe('joinedAfter', () => {
    it('is true for every event while the user is joined', () => {
      expect(joinedAfter({ topo: 1_000_000, stream: 1 }, 'now')).to.equal(true);
    });
    it('is false for a user who never joined', () => {
      expect(joinedAfter({ topo: 1, stream: 1 }, null)).to.equal(false);
    });
    it('is true only for events before the end of the last join', () => {
      const leftAt = { topo: 10, stream: 50 };
      expect(joinedAfter({ topo: 9, stream: 60 }, leftAt)).to.equal(true);
      expect(joinedAfter({ topo: 10, stream: 49 }, leftAt)).to.equal(true);
      expect(joinedAfter({ topo: 10, stream: 50 }, leftAt)).to.equal(false);
      expect(joinedAfter({ topo: 11, stream: 1 }, leftAt)).to.equal(false);
    });
  });
});
