import { expect } from 'chai';
import { redactEvent, redactEventForClient } from '../../../src/matrix/redaction.js';
import { getRoomVersion, type RoomVersion } from '../../../src/matrix/room-versions.js';
import type { JsonObject } from '../../../src/matrix/types.js';

function v(id: string): RoomVersion {
  return getRoomVersion(id)!;
}

function ev(type: string, content: JsonObject, extra: JsonObject = {}): JsonObject {
  return {
    event_id: '$e:x',
    type,
    room_id: '!r:x',
    sender: '@u:x',
    state_key: '',
    content,
    hashes: { sha256: 'h' },
    signatures: { x: { 'ed25519:1': 's' } },
    depth: 4,
    prev_events: ['$p'],
    auth_events: ['$a'],
    origin_server_ts: 7,
    ...extra,
  };
}

function redactedContent(type: string, content: JsonObject, version: string): JsonObject {
  return redactEvent(ev(type, content), v(version))['content'] as JsonObject;
}

describe('redaction', () => {
  it('v1: keeps the protocol keys, strips unsigned, redacts and unknown keys', () => {
    const input = ev('m.room.message', { body: 'secret' }, {
      origin: 'x',
      membership: 'join',
      prev_state: [],
      unsigned: { age: 1 },
      redacts: '$other',
      custom: 1,
    });
    const out = redactEvent(input, v('1'));
    expect(out).to.deep.equal({ ...ev('m.room.message', {}), origin: 'x', membership: 'join', prev_state: [] });
  });

  it('does not mutate its input', () => {
    const input = ev('m.room.message', { body: 'secret' }, { unsigned: { age: 1 } });
    const copy = structuredClone(input);
    redactEvent(input, v('11'));
    expect(input).to.deep.equal(copy);
  });

  it('keeps membership, creator, join_rule, power levels and history_visibility in every version', () => {
    for (const id of ['1', '6', '10', '11', '12']) {
      expect(redactedContent('m.room.member', { membership: 'join', displayname: 'U' }, id)).to.deep.equal({ membership: 'join' });
      expect(redactedContent('m.room.join_rules', { join_rule: 'public', x: 1 }, id)).to.deep.equal({ join_rule: 'public' });
      expect(redactedContent('m.room.history_visibility', { history_visibility: 'shared', x: 1 }, id)).to.deep.equal({
        history_visibility: 'shared',
      });
      const pl = { ban: 50, events: { a: 1 }, events_default: 0, kick: 50, redact: 50, state_default: 50, users: { '@u:x': 100 }, users_default: 0 };
      expect(redactedContent('m.room.power_levels', { ...pl, notifications: { room: 50 } }, id)).to.deep.equal(pl);
      expect(redactedContent('m.room.create', { creator: '@u:x' }, id)).to.deep.equal({ creator: '@u:x' });
    }
  });

  it('v5 keeps m.room.aliases `aliases`, v6 does not', () => {
    expect(redactedContent('m.room.aliases', { aliases: ['#a:x'], x: 1 }, '5')).to.deep.equal({ aliases: ['#a:x'] });
    expect(redactedContent('m.room.aliases', { aliases: ['#a:x'] }, '6')).to.deep.equal({});
  });

  it('v8 keeps join_rules `allow`, v7 does not', () => {
    const allow = [{ type: 'm.room_membership', room_id: '!s:x' }];
    expect(redactedContent('m.room.join_rules', { join_rule: 'restricted', allow }, '7')).to.deep.equal({ join_rule: 'restricted' });
    expect(redactedContent('m.room.join_rules', { join_rule: 'restricted', allow }, '8')).to.deep.equal({ join_rule: 'restricted', allow });
  });

  it('v9 keeps member `join_authorised_via_users_server`, v8 does not', () => {
    const content = { membership: 'join', join_authorised_via_users_server: '@admin:x' };
    expect(redactedContent('m.room.member', content, '8')).to.deep.equal({ membership: 'join' });
    expect(redactedContent('m.room.member', content, '9')).to.deep.equal(content);
  });

  it('v11 keeps all of m.room.create content, v10 only `creator`', () => {
    const content = { creator: '@u:x', room_version: '10', 'm.federate': false, predecessor: { room_id: '!o:x' } };
    expect(redactedContent('m.room.create', content, '10')).to.deep.equal({ creator: '@u:x' });
    expect(redactedContent('m.room.create', content, '11')).to.deep.equal(content);
  });

  it('v11 keeps power levels `invite`, v10 does not', () => {
    expect(redactedContent('m.room.power_levels', { invite: 0, ban: 50 }, '10')).to.deep.equal({ ban: 50 });
    expect(redactedContent('m.room.power_levels', { invite: 0, ban: 50 }, '11')).to.deep.equal({ invite: 0, ban: 50 });
  });

  it('v11 keeps `redacts` in m.room.redaction content, v10 does not', () => {
    expect(redactedContent('m.room.redaction', { redacts: '$x', reason: 'spam' }, '10')).to.deep.equal({});
    expect(redactedContent('m.room.redaction', { redacts: '$x', reason: 'spam' }, '11')).to.deep.equal({ redacts: '$x' });
  });

  it('v11 no longer keeps top-level origin, membership and prev_state', () => {
    const input = ev('m.room.member', { membership: 'join' }, { origin: 'x', membership: 'join', prev_state: [] });
    expect(redactEvent(input, v('10'))).to.include.keys('origin', 'membership', 'prev_state');
    expect(redactEvent(input, v('11'))).to.not.have.any.keys('origin', 'membership', 'prev_state');
    expect(redactEvent(input, v('11'))).to.deep.equal(ev('m.room.member', { membership: 'join' }));
  });

  it('v11 keeps only `signed` of a member event third_party_invite, v10 drops it', () => {
    const content = { membership: 'invite', third_party_invite: { display_name: 'a@b', signed: { mxid: '@u:x', token: 't' } } };
    expect(redactedContent('m.room.member', content, '10')).to.deep.equal({ membership: 'invite' });
    expect(redactedContent('m.room.member', content, '11')).to.deep.equal({
      membership: 'invite',
      third_party_invite: { signed: { mxid: '@u:x', token: 't' } },
    });
  });

  // spec: Room Version 11 §"Redactions": the `third_party_invite` key is kept with only its
  // `signed` key. An object without `signed` therefore stays as `{}`, as Synapse and Ruma redact
  // it: the redacted form feeds the reference hash, so anything else gives another event ID.
  it('v11: an object third_party_invite without `signed` is kept as {}; a non-object one is dropped', () => {
    const noSigned = { membership: 'invite', third_party_invite: { display_name: 'a' } };
    expect(redactedContent('m.room.member', noSigned, '11')).to.deep.equal({ membership: 'invite', third_party_invite: {} });
    expect(redactedContent('m.room.member', noSigned, '12')).to.deep.equal({ membership: 'invite', third_party_invite: {} });
    expect(redactedContent('m.room.member', noSigned, '10')).to.deep.equal({ membership: 'invite' });
    for (const bad of ['stripped', ['signed'], null, 3]) {
      expect(redactedContent('m.room.member', { membership: 'invite', third_party_invite: bad }, '11'), String(bad)).to.deep.equal({
        membership: 'invite',
      });
    }
  });

  it('v12 redacts like v11', () => {
    const samples: [string, JsonObject][] = [
      ['m.room.create', { room_version: '12', additional_creators: ['@b:x'] }],
      ['m.room.power_levels', { invite: 0, notifications: { room: 1 } }],
      ['m.room.redaction', { redacts: '$x', reason: 'r' }],
      ['m.room.member', { membership: 'join', join_authorised_via_users_server: '@a:x', displayname: 'd' }],
    ];
    for (const [type, content] of samples) {
      const input = ev(type, content, { origin: 'x' });
      expect(redactEvent(input, v('12')), type).to.deep.equal(redactEvent(input, v('11')));
    }
  });

  it('empties content that is not an object', () => {
    const out = redactEvent({ type: 'm.room.message', content: 'nonsense' }, v('11'));
    expect(out).to.deep.equal({ type: 'm.room.message', content: {} });
  });

  it('for clients, keeps event_id and puts redacted_because into unsigned', () => {
    const redaction = { type: 'm.room.redaction', event_id: '$r:x', content: { redacts: '$e:x' } };
    const input = ev('m.room.message', { body: 'secret' }, { unsigned: { age: 5, prev_content: { body: 'old' }, transaction_id: 't' } });
    const out = redactEventForClient(input, v('11'), redaction);
    expect(out['event_id']).to.equal('$e:x');
    expect(out['content']).to.deep.equal({});
    expect(out['unsigned']).to.deep.equal({ age: 5, transaction_id: 't', redacted_because: redaction });
  });
});
