import { expect } from 'chai';
import { MatrixError } from '../../src/errors.js';
import {
  emptyRoomEventFilter,
  filterAllowsRoom,
  matchesFilter,
  parseRoomEventFilter,
  parseRoomEventFilterParam,
} from '../../src/services/rooms/event-filter.js';

function refusal(fn: () => unknown): MatrixError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(MatrixError);
    return err as MatrixError;
  }
  expect.fail('expected a refusal');
}

const msg = (over: Partial<{ type: string; sender: string; room_id: string; content: Record<string, unknown> }> = {}) => ({
  type: 'm.room.message',
  sender: '@alice:hs',
  room_id: '!r:hs',
  content: { body: 'hi' },
  ...over,
});

describe('rooms: RoomEventFilter', () => {
  describe('parseRoomEventFilter', () => {
    it('reads every field into camelCase', () => {
      const f = parseRoomEventFilter({
        limit: 5,
        types: ['m.room.*'],
        not_types: ['m.room.member'],
        senders: ['@a:hs'],
        not_senders: ['@b:hs'],
        rooms: ['!r:hs'],
        not_rooms: ['!s:hs'],
        contains_url: true,
        lazy_load_members: true,
        include_redundant_members: true,
        unread_thread_notifications: true,
        'org.example.unknown': 1,
      });
      expect(f).to.deep.equal({
        limit: 5,
        types: ['m.room.*'],
        notTypes: ['m.room.member'],
        senders: ['@a:hs'],
        notSenders: ['@b:hs'],
        rooms: ['!r:hs'],
        notRooms: ['!s:hs'],
        containsUrl: true,
        lazyLoadMembers: true,
        includeRedundantMembers: true,
        unreadThreadNotifications: true,
      });
    });

    it('defaults the booleans and leaves absent lists absent', () => {
      expect(parseRoomEventFilter({})).to.deep.equal(emptyRoomEventFilter());
      expect(parseRoomEventFilter({})).to.not.have.property('types');
    });

    const cases: [string, unknown, string][] = [
      ['a non-object', [], 'filter'],
      ['null', null, 'filter'],
      ['limit 0', { limit: 0 }, 'limit'],
      ['a negative limit', { limit: -3 }, 'limit'],
      ['a fractional limit', { limit: 1.5 }, 'limit'],
      ['a string limit', { limit: '10' }, 'limit'],
      ['types as a string', { types: 'm.room.message' }, 'types'],
      ['not_types with a number', { not_types: [1] }, 'not_types'],
      ['senders that are not user IDs', { senders: ['alice'] }, 'senders'],
      ['not_senders that are not user IDs', { not_senders: ['!room:hs'] }, 'not_senders'],
      ['rooms that are not room IDs', { rooms: ['@a:hs'] }, 'rooms'],
      ['not_rooms as an object', { not_rooms: {} }, 'not_rooms'],
      ['contains_url as a string', { contains_url: 'true' }, 'contains_url'],
      ['lazy_load_members as a number', { lazy_load_members: 1 }, 'lazy_load_members'],
      ['include_redundant_members as a string', { include_redundant_members: 'yes' }, 'include_redundant_members'],
    ];
    for (const [what, json, field] of cases) {
      it(`refuses ${what} with M_BAD_JSON naming ${field}`, () => {
        const err = refusal(() => parseRoomEventFilter(json));
        expect(err.status).to.equal(400);
        expect(err.errcode).to.equal('M_BAD_JSON');
        expect(err.message).to.include(field);
      });
    }

    it('uses the errcode and field prefix it is given', () => {
      const err = refusal(() => parseRoomEventFilter({ limit: 0 }, { errcode: 'M_INVALID_PARAM', where: 'room.timeline' }));
      expect(err.errcode).to.equal('M_INVALID_PARAM');
      expect(err.message).to.include('room.timeline.limit');
    });
  });

  describe('parseRoomEventFilterParam', () => {
    it('treats absent and empty as no filter', () => {
      expect(parseRoomEventFilterParam(undefined)).to.deep.equal(emptyRoomEventFilter());
      expect(parseRoomEventFilterParam('')).to.deep.equal(emptyRoomEventFilter());
    });
    it('parses JSON text', () => {
      expect(parseRoomEventFilterParam('{"lazy_load_members":true}').lazyLoadMembers).to.equal(true);
    });
    it('refuses text that is not JSON with M_NOT_JSON, and bad fields with M_BAD_JSON (as Synapse)', () => {
      expect(refusal(() => parseRoomEventFilterParam('{nope')).errcode).to.equal('M_NOT_JSON');
      expect(refusal(() => parseRoomEventFilterParam('[1]')).errcode).to.equal('M_BAD_JSON');
      const err = refusal(() => parseRoomEventFilterParam('{"types":"x"}'));
      expect(err.errcode).to.equal('M_BAD_JSON');
      expect(err.message).to.include('filter.types');
    });
  });

  describe('matchesFilter', () => {
    const f = (json: Record<string, unknown>) => parseRoomEventFilter(json);

    it('lets everything through an empty filter', () => {
      expect(matchesFilter(msg(), emptyRoomEventFilter())).to.equal(true);
    });
    it('matches types exactly and with * wildcards', () => {
      expect(matchesFilter(msg(), f({ types: ['m.room.message'] }))).to.equal(true);
      expect(matchesFilter(msg(), f({ types: ['m.room.name'] }))).to.equal(false);
      expect(matchesFilter(msg(), f({ types: ['m.room.*'] }))).to.equal(true);
      expect(matchesFilter(msg(), f({ types: ['m.*.message'] }))).to.equal(true);
      expect(matchesFilter(msg(), f({ types: ['*'] }))).to.equal(true);
      expect(matchesFilter(msg(), f({ types: ['m.room'] }))).to.equal(false);
      // A dot is literal, not a regular-expression wildcard.
      expect(matchesFilter(msg({ type: 'mXroomXmessage' }), f({ types: ['m.room.message'] }))).to.equal(false);
    });
    it('lets nothing through an empty positive list', () => {
      expect(matchesFilter(msg(), f({ types: [] }))).to.equal(false);
      expect(matchesFilter(msg(), f({ senders: [] }))).to.equal(false);
    });
    it('lets not_types win over types', () => {
      expect(matchesFilter(msg(), f({ types: ['m.room.*'], not_types: ['m.room.message'] }))).to.equal(false);
      expect(matchesFilter(msg(), f({ not_types: ['*.message'] }))).to.equal(false);
      expect(matchesFilter(msg(), f({ not_types: ['m.room.member'] }))).to.equal(true);
    });
    it('filters on senders and not_senders', () => {
      expect(matchesFilter(msg(), f({ senders: ['@alice:hs'] }))).to.equal(true);
      expect(matchesFilter(msg(), f({ senders: ['@bob:hs'] }))).to.equal(false);
      expect(matchesFilter(msg(), f({ senders: ['@alice:hs'], not_senders: ['@alice:hs'] }))).to.equal(false);
    });
    it('filters on rooms and not_rooms', () => {
      expect(matchesFilter(msg(), f({ rooms: ['!r:hs'] }))).to.equal(true);
      expect(matchesFilter(msg(), f({ rooms: ['!other:hs'] }))).to.equal(false);
      expect(matchesFilter(msg(), f({ not_rooms: ['!r:hs'] }))).to.equal(false);
      expect(filterAllowsRoom(f({ not_rooms: ['!r:hs'] }), '!r:hs')).to.equal(false);
      expect(filterAllowsRoom(f({ rooms: ['!r:hs'] }), '!r:hs')).to.equal(true);
      expect(filterAllowsRoom(f({ rooms: ['!x:hs'] }), '!r:hs')).to.equal(false);
    });
    it('filters on contains_url (a string url in content)', () => {
      const withUrl = msg({ content: { url: 'mxc://hs/abc', msgtype: 'm.image' } });
      expect(matchesFilter(withUrl, f({ contains_url: true }))).to.equal(true);
      expect(matchesFilter(msg(), f({ contains_url: true }))).to.equal(false);
      expect(matchesFilter(withUrl, f({ contains_url: false }))).to.equal(false);
      expect(matchesFilter(msg(), f({ contains_url: false }))).to.equal(true);
      expect(matchesFilter(msg({ content: { url: 5 } }), f({ contains_url: true }))).to.equal(false);
    });
  });
});
