import { expect } from 'chai';
import { decodeBase64 } from '../../../src/matrix/base64.js';
import { computeEventId } from '../../../src/matrix/hashes.js';
import { canonicalJson } from '../../../src/matrix/canonical-json.js';
import {
  addEventSignature,
  buildEvent,
  buildSignedEvent,
  checkContentHash,
  checkPduLimits,
  fromFederationFormat,
  hashAndSignEvent,
  PduFormatError,
  roomIdFromCreateEvent,
  toFederationFormat,
  verifyEventSignatures,
  type EventProto,
} from '../../../src/matrix/pdu.js';
import { getRoomVersion, type RoomVersion } from '../../../src/matrix/room-versions.js';
import { signingKeyFromSeed, type SigningKey } from '../../../src/matrix/signing.js';
import type { JsonObject } from '../../../src/matrix/types.js';

function v(id: string): RoomVersion {
  return getRoomVersion(id)!;
}

const specKey = signingKeyFromSeed(decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1'), '1');
const hsKey = signingKeyFromSeed(Buffer.alloc(32, 3), 'a1');
const otherKey = signingKeyFromSeed(Buffer.alloc(32, 4), 'b1');
const HS = 'hs.example';
const OTHER = 'other.example';

function keysOf(...entries: [string, SigningKey][]): (server: string, keyId: string) => string | undefined {
  return (server, keyId) => entries.find(([s, k]) => s === server && k.keyId === keyId)?.[1].publicKeyBase64;
}
const lookup = keysOf([HS, hsKey], [OTHER, otherKey]);

function message(overrides: Partial<EventProto> = {}): EventProto {
  return {
    type: 'm.room.message',
    sender: `@alice:${HS}`,
    room_id: `!room:${HS}`,
    content: { msgtype: 'm.text', body: 'hello' },
    prev_events: ['$prev'],
    auth_events: ['$create', '$pl', '$member'],
    depth: 10,
    origin_server_ts: 1_700_000_000_000,
    ...overrides,
  };
}

describe('PDU signing (spec test vectors)', () => {
  // spec: Appendices §"Cryptographic Test Vectors" §"Event Signing", room version 1 redaction rules.
  it('hashes and signs the minimal event exactly as the spec', () => {
    const input = {
      room_id: '!x:domain',
      sender: '@a:domain',
      origin: 'domain',
      origin_server_ts: 1000000,
      signatures: {},
      hashes: {},
      type: 'X',
      content: {},
      prev_events: [],
      auth_events: [],
      depth: 3,
      unsigned: { age_ts: 1000000 },
    };
    expect(hashAndSignEvent(input, v('1'), 'domain', specKey)).to.deep.equal({
      auth_events: [],
      content: {},
      depth: 3,
      hashes: { sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos' },
      origin: 'domain',
      origin_server_ts: 1000000,
      prev_events: [],
      room_id: '!x:domain',
      sender: '@a:domain',
      signatures: {
        domain: { 'ed25519:1': 'KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg' },
      },
      type: 'X',
      unsigned: { age_ts: 1000000 },
    });
  });

  it('hashes and signs the event with redactable content exactly as the spec', () => {
    const input = {
      content: { body: 'Here is the message content' },
      event_id: '$0:domain',
      origin: 'domain',
      origin_server_ts: 1000000,
      type: 'm.room.message',
      room_id: '!r:domain',
      sender: '@u:domain',
      signatures: {},
      unsigned: { age_ts: 1000000 },
    };
    const signed = hashAndSignEvent(input, v('1'), 'domain', specKey);
    expect(signed.hashes).to.deep.equal({ sha256: 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g' });
    expect(signed.signatures).to.deep.equal({
      domain: { 'ed25519:1': 'Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA' },
    });
    expect(signed.unsigned).to.deep.equal({ age_ts: 1000000 });
    expect(input.signatures).to.deep.equal({});
  });
});

describe('buildEvent', () => {
  it('builds a v11 event whose hash, signature and ID check out', () => {
    const ev = buildEvent(message(), v('11'), HS, hsKey);
    expect(ev.event_id).to.match(/^\$[A-Za-z0-9_-]{43}$/);
    expect(Object.keys(ev.signatures)).to.deep.equal([HS]);
    const wire = toFederationFormat(ev, v('11'));
    expect(wire).to.not.have.property('event_id');
    expect(computeEventId(wire, v('11'))).to.equal(ev.event_id);
    expect(checkContentHash(wire, v('11'))).to.equal(true);
    expect(verifyEventSignatures(wire, v('11'), lookup)).to.deep.equal({ ok: true });
  });

  it('gives the canonical JSON of the signed form, and the ID, hash and signature of the independent checks, in every event format', () => {
    const content = { msgtype: 'm.text', body: 'Привет 👋 "quoted" \\ \u0001', 'm.mentions': { user_ids: [`@bob:${HS}`] }, z: [1, { b: 2, a: null }], '\uE000': 1, '\uD83D\uDE00': 2 };
    const cases: [string, EventProto][] = [
      ['1', message({ content, event_id: `$abc:${HS}` })],
      ['3', message({ content })],
      ['10', message({ content, type: 'm.room.redaction', redacts: '$target' })],
      ['11', message({ content, type: 'm.room.redaction', redacts: '$target' })],
      ['12', { type: 'm.room.create', state_key: '', sender: `@alice:${HS}`, content: { room_version: '12', extra: content }, prev_events: [], auth_events: [], depth: 1, origin_server_ts: 1 }],
    ];
    for (const [id, proto] of cases) {
      const { event, json } = buildSignedEvent(proto, v(id), HS, hsKey);
      const wire = toFederationFormat(event, v(id));
      expect(json, id).to.equal(canonicalJson(wire));
      expect(JSON.parse(json), id).to.deep.equal(wire);
      expect(event.event_id, id).to.equal(id === '1' ? `$abc:${HS}` : computeEventId(wire, v(id)));
      expect(checkContentHash(wire, v(id)), id).to.equal(true);
      expect(verifyEventSignatures(wire, v(id), lookup), id).to.deep.equal({ ok: true });
      expect(buildEvent(proto, v(id), HS, hsKey), id).to.deep.equal(event);
    }
  });

  it('uses standard base64 event IDs in v3 and takes the given event ID in v1', () => {
    const built = Array.from({ length: 40 }, (_, depth) => buildEvent(message({ depth }), v('3'), HS, hsKey).event_id);
    expect(built.every((id) => /^\$[A-Za-z0-9+/]{43}$/.test(id))).to.equal(true);
    expect(built.some((id) => /[+/]/.test(id))).to.equal(true);
    const v1 = buildEvent(message({ event_id: `$abc:${HS}` }), v('1'), HS, hsKey);
    expect(v1.event_id).to.equal(`$abc:${HS}`);
    expect(() => buildEvent(message(), v('1'), HS, hsKey)).to.throw(PduFormatError, /event_id/);
    expect(() => buildEvent(message({ event_id: '$x:y' }), v('4'), HS, hsKey)).to.throw(PduFormatError);
  });

  it('puts redacts at the top level before v11 and into content from v11', () => {
    const proto = message({ type: 'm.room.redaction', content: {}, redacts: '$target' });
    const v10 = buildEvent(proto, v('10'), HS, hsKey);
    expect(v10.redacts).to.equal('$target');
    expect(v10.content).to.deep.equal({});
    const v11 = buildEvent(proto, v('11'), HS, hsKey);
    expect(v11).to.not.have.property('redacts');
    expect(v11.content).to.deep.equal({ redacts: '$target' });
    expect(proto.content).to.deep.equal({});
  });

  it('v12: builds a create event without room_id and derives the room ID from its hash', () => {
    const create = buildEvent(
      {
        type: 'm.room.create',
        state_key: '',
        sender: `@alice:${HS}`,
        content: { room_version: '12' },
        prev_events: [],
        auth_events: [],
        depth: 1,
        origin_server_ts: 1_700_000_000_000,
      },
      v('12'),
      HS,
      hsKey,
    );
    expect(create).to.not.have.property('room_id');
    const roomId = roomIdFromCreateEvent(create);
    expect(roomId).to.match(/^![A-Za-z0-9_-]{43}$/);
    expect(roomId).to.equal('!' + create.event_id.slice(1));
    expect(roomIdFromCreateEvent(toFederationFormat(create, v('12')))).to.equal(roomId);
    expect(verifyEventSignatures(toFederationFormat(create, v('12')), v('12'), lookup)).to.deep.equal({ ok: true });

    const member = buildEvent(
      message({ type: 'm.room.member', state_key: `@alice:${HS}`, room_id: roomId, content: { membership: 'join' }, prev_events: [create.event_id], auth_events: [] }),
      v('12'),
      HS,
      hsKey,
    );
    expect(member.room_id).to.equal(roomId);
  });

  it('v12: refuses a create event with a room_id, and other events without one', () => {
    const create = message({ type: 'm.room.create', state_key: '', content: {}, prev_events: [], auth_events: [] });
    expect(() => buildEvent(create, v('12'), HS, hsKey)).to.throw(PduFormatError, /must not have a room_id/);
    expect(buildEvent(create, v('11'), HS, hsKey).room_id).to.equal(`!room:${HS}`);
    const { room_id: _r, ...noRoom } = message();
    expect(() => buildEvent(noRoom, v('12'), HS, hsKey)).to.throw(PduFormatError, /room_id/);
  });
});

describe('federation format', () => {
  it('v1: round-trips [id, hashes] pairs, keeping known reference hashes', () => {
    const wire = hashAndSignEvent(
      {
        event_id: `$m1:${HS}`,
        type: 'm.room.message',
        room_id: `!room:${HS}`,
        sender: `@alice:${HS}`,
        origin: HS,
        content: { body: 'hi' },
        depth: 3,
        origin_server_ts: 5,
        prev_events: [[`$p:${HS}`, { sha256: 'cHJldg' }]],
        auth_events: [[`$c:${HS}`, {}], [`$m:${HS}`, { sha256: 'bWVt' }]],
      },
      v('1'),
      HS,
      hsKey,
    ) as unknown as JsonObject;
    const ev = fromFederationFormat(wire, v('1'));
    expect(ev.event_id).to.equal(`$m1:${HS}`);
    expect(ev.prev_events).to.deep.equal([`$p:${HS}`]);
    expect(ev.auth_events).to.deep.equal([`$c:${HS}`, `$m:${HS}`]);
    const back = toFederationFormat(ev, v('1'));
    expect(back).to.deep.equal(wire);
    expect(checkContentHash(back, v('1'))).to.equal(true);
    expect(verifyEventSignatures(back, v('1'), lookup)).to.deep.equal({ ok: true });
  });

  it('v1: built events reference prev/auth events with empty hash objects', () => {
    const ev = buildEvent(message({ event_id: `$x:${HS}` }), v('1'), HS, hsKey);
    const wire = toFederationFormat(ev, v('1'));
    expect(wire['event_id']).to.equal(`$x:${HS}`);
    expect(wire['prev_events']).to.deep.equal([['$prev', {}]]);
    expect(wire['auth_events']).to.deep.equal([['$create', {}], ['$pl', {}], ['$member', {}]]);
    expect(checkContentHash(wire, v('1'))).to.equal(true);
  });

  it('v11: round-trips, keeping unknown top-level keys and unsigned', () => {
    const built = buildEvent(message(), v('11'), HS, hsKey);
    const wire = { ...toFederationFormat(built, v('11')), unsigned: { age: 3 } };
    const ev = fromFederationFormat(wire, v('11'));
    expect(ev).to.deep.equal({ ...built, unsigned: { age: 3 } });
    expect(toFederationFormat(ev, v('11'))).to.deep.equal(wire);
  });

  it('throws descriptive errors on malformed PDUs', () => {
    const good = toFederationFormat(buildEvent(message(), v('11'), HS, hsKey), v('11'));
    const bad = (over: JsonObject, version = v('11')) => () => fromFederationFormat({ ...good, ...over }, version);
    const { sender: _s, ...noSender } = good;
    expect(() => fromFederationFormat(noSender, v('11'))).to.throw(PduFormatError, /sender/);
    expect(bad({ depth: 1.5 })).to.throw(PduFormatError, /depth/);
    expect(bad({ content: [] })).to.throw(PduFormatError, /content/);
    expect(bad({ hashes: {} })).to.throw(PduFormatError, /hashes/);
    expect(bad({ signatures: { x: 'y' } })).to.throw(PduFormatError, /signatures/);
    expect(bad({ prev_events: [['$p', {}]] })).to.throw(PduFormatError, /prev_events/);
    expect(bad({ event_id: '$x' })).to.throw(PduFormatError, /event_id/);
    expect(bad({ content: { n: 0.5 } })).to.throw(PduFormatError, /canonical JSON/);
    expect(bad({ event_id: `$x:${HS}` }, v('1'))).to.throw(PduFormatError, /prev_events/);
    expect(bad({ event_id: `$x:${HS}`, prev_events: [], auth_events: [] }, v('1'))).to.not.throw();
    // Before v6 non-canonical numbers are tolerated (spec: Room Version 1 §"Canonical JSON").
    expect(bad({ content: { n: 0.5 } }, v('5'))).to.not.throw();
    expect(bad({ event_id: undefined as unknown as string, prev_events: [], auth_events: [] }, v('1'))).to.throw(PduFormatError, /event_id/);
    expect(bad({ type: 'm.room.create', state_key: '' }, v('12'))).to.throw(PduFormatError, /room_id/);
  });
});

describe('hash and signature checks', () => {
  const built = buildEvent(message(), v('11'), HS, hsKey);
  const wire = toFederationFormat(built, v('11'));

  it('tampered content fails the content hash but keeps signatures valid (they cover the redacted form)', () => {
    const tampered = { ...wire, content: { msgtype: 'm.text', body: 'evil' } };
    expect(checkContentHash(tampered, v('11'))).to.equal(false);
    expect(verifyEventSignatures(tampered, v('11'), lookup)).to.deep.equal({ ok: true });
  });

  it('tampered protected fields fail the signature check', () => {
    const r1 = verifyEventSignatures({ ...wire, depth: 11 }, v('11'), lookup);
    expect(r1.ok).to.equal(false);
    const member = toFederationFormat(
      buildEvent(message({ type: 'm.room.member', state_key: `@alice:${HS}`, content: { membership: 'join' } }), v('11'), HS, hsKey),
      v('11'),
    );
    const r2 = verifyEventSignatures({ ...member, content: { membership: 'leave' } }, v('11'), lookup);
    expect(r2).to.deep.include({ ok: false });
    expect((r2 as { reason: string }).reason).to.match(/does not verify/);
  });

  it('a malformed hash fails the content hash check', () => {
    expect(checkContentHash({ ...wire, hashes: { sha256: '***' } }, v('11'))).to.equal(false);
    expect(checkContentHash({ ...wire, hashes: {} }, v('11'))).to.equal(false);
  });

  it('requires a signature from the sender server with a known key', () => {
    expect(verifyEventSignatures(wire, v('11'), () => undefined)).to.deep.equal({
      ok: false,
      reason: `no signature from ${HS} with a known key`,
    });
    expect(verifyEventSignatures({ ...wire, signatures: {} }, v('11'), lookup)).to.deep.equal({ ok: false, reason: `no signature from ${HS}` });
    // An extra signature by an unknown key (e.g. a policy server's) is skipped.
    const extra = { ...wire, signatures: { [HS]: { ...built.signatures[HS], 'ed25519:unknown': 'AAAA' } } };
    expect(verifyEventSignatures(extra, v('11'), lookup)).to.deep.equal({ ok: true });
  });

  it('fails with a reason when the sender is not a user ID', () => {
    expect(verifyEventSignatures({ ...wire, sender: 'alice' }, v('11'), lookup)).to.deep.equal({
      ok: false,
      reason: 'sender is not a valid user ID',
    });
  });

  it('v1/v2: also requires the event ID server when it differs from the sender server', () => {
    const ev = toFederationFormat(buildEvent(message({ event_id: `$x:${OTHER}` }), v('2'), HS, hsKey), v('2'));
    expect(verifyEventSignatures(ev, v('2'), lookup)).to.deep.equal({ ok: false, reason: `no signature from ${OTHER}` });
    expect(verifyEventSignatures(addEventSignature(ev, v('2'), OTHER, otherKey), v('2'), lookup)).to.deep.equal({ ok: true });
  });

  it('v8+: a join via join_authorised_via_users_server needs the authorising server signature', () => {
    const proto = message({
      type: 'm.room.member',
      state_key: `@alice:${HS}`,
      content: { membership: 'join', join_authorised_via_users_server: `@admin:${OTHER}` },
    });
    const join = toFederationFormat(buildEvent(proto, v('9'), HS, hsKey), v('9'));
    expect(verifyEventSignatures(join, v('9'), lookup)).to.deep.equal({ ok: false, reason: `no signature from ${OTHER}` });
    const cosigned = addEventSignature(join, v('9'), OTHER, otherKey);
    expect(verifyEventSignatures(cosigned, v('9'), lookup)).to.deep.equal({ ok: true });
    // Before v8 the key means nothing.
    const v7join = toFederationFormat(buildEvent(proto, v('7'), HS, hsKey), v('7'));
    expect(verifyEventSignatures(v7join, v('7'), lookup)).to.deep.equal({ ok: true });
  });

  it('an invite from a third-party invite does not need the sender server signature', () => {
    const invite = toFederationFormat(
      buildEvent(
        message({
          type: 'm.room.member',
          state_key: `@bob:${OTHER}`,
          content: { membership: 'invite', third_party_invite: { signed: { mxid: `@bob:${OTHER}`, token: 't' } } },
        }),
        v('11'),
        OTHER,
        otherKey,
      ),
      v('11'),
    );
    expect(verifyEventSignatures(invite, v('11'), lookup)).to.deep.equal({ ok: true });
    const plainInvite = { ...invite, content: { membership: 'invite' } };
    expect(verifyEventSignatures(plainInvite, v('11'), lookup)).to.deep.equal({ ok: false, reason: `no signature from ${HS}` });
  });
});

describe('PDU size limits', () => {
  const wire = toFederationFormat(buildEvent(message(), v('11'), HS, hsKey), v('11'));

  it('accepts a normal event and fields of exactly 255 bytes', () => {
    expect(checkPduLimits(wire)).to.equal(null);
    expect(checkPduLimits({ ...wire, type: 'x'.repeat(255), state_key: 'é'.repeat(127) + 'x' })).to.equal(null);
  });

  it('rejects an event over 65536 bytes of canonical JSON', () => {
    const size = Buffer.byteLength(JSON.stringify({ ...wire, content: { body: '' } }));
    const exact = { ...wire, content: { body: 'x'.repeat(65536 - size) } };
    expect(checkPduLimits(exact)).to.equal(null);
    expect(checkPduLimits({ ...wire, content: { body: 'x'.repeat(65537 - size) } })).to.match(/65536/);
  });

  it('rejects sender, room_id, state_key, type and event_id over 255 bytes', () => {
    expect(checkPduLimits({ ...wire, sender: `@${'a'.repeat(250)}:${HS}` })).to.match(/^sender/);
    expect(checkPduLimits({ ...wire, room_id: `!${'a'.repeat(250)}:${HS}` })).to.match(/^room_id/);
    expect(checkPduLimits({ ...wire, state_key: 'é'.repeat(128) })).to.match(/^state_key/);
    expect(checkPduLimits({ ...wire, type: 't'.repeat(256) })).to.match(/^type/);
    expect(checkPduLimits({ ...wire, event_id: `$${'e'.repeat(255)}` })).to.match(/^event_id/);
  });

  it('reports PDUs that are not canonical JSON', () => {
    expect(checkPduLimits({ ...wire, depth: 0.5 })).to.match(/canonical JSON/);
  });
});
