import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { computeContentHash, computeEventId, computeReferenceHash } from '../../../src/matrix/hashes.js';
import { getRoomVersion, type RoomVersion } from '../../../src/matrix/room-versions.js';

function v(id: string): RoomVersion {
  return getRoomVersion(id)!;
}

// spec: Appendices §"Cryptographic Test Vectors" §"Event Signing": the two events and their hashes.
const minimalEvent = {
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
const messageEvent = {
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

const v4Message = {
  auth_events: ['$auth'],
  content: { body: 'hi', msgtype: 'm.text' },
  depth: 5,
  hashes: { sha256: 'abc' },
  origin_server_ts: 1234,
  prev_events: ['$prev'],
  room_id: '!r:example.org',
  sender: '@u:example.org',
  signatures: { 'example.org': { 'ed25519:1': 'sig' } },
  type: 'm.room.message',
  unsigned: { age: 10 },
};

describe('content hash', () => {
  it('matches the spec vector for the minimal event', () => {
    expect(computeContentHash(minimalEvent)).to.equal('5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos');
  });

  it('matches the spec vector for the message event', () => {
    expect(computeContentHash(messageEvent)).to.equal('onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g');
  });

  it('ignores unsigned, signatures and hashes but covers everything else', () => {
    const base = computeContentHash(messageEvent);
    expect(computeContentHash({ ...messageEvent, unsigned: { age: 1 }, signatures: { x: {} }, hashes: { sha256: 'q' } })).to.equal(base);
    expect(computeContentHash({ ...messageEvent, content: { body: 'changed' } })).to.not.equal(base);
    expect(computeContentHash({ ...messageEvent, extra_key: 1 })).to.not.equal(base);
  });
});

describe('reference hash and event IDs', () => {
  it('is sha256 of the canonical redacted event without signatures and unsigned', () => {
    const expectedJson =
      '{"auth_events":["$auth"],"content":{},"depth":5,"hashes":{"sha256":"abc"},"origin_server_ts":1234,' +
      '"prev_events":["$prev"],"room_id":"!r:example.org","sender":"@u:example.org","type":"m.room.message"}';
    const expected = createHash('sha256').update(expectedJson).digest();
    expect(computeReferenceHash(v4Message, v('4')).equals(expected)).to.equal(true);
    expect(computeEventId(v4Message, v('4'))).to.equal('$' + expected.toString('base64url'));
  });

  it('does not change when redactable content changes, but does when hashes change', () => {
    const id = computeEventId(v4Message, v('10'));
    expect(computeEventId({ ...v4Message, content: { body: 'other' } }, v('10'))).to.equal(id);
    expect(computeEventId({ ...v4Message, hashes: { sha256: 'abd' } }, v('10'))).to.not.equal(id);
  });

  it('uses standard base64 in room version 3 and URL-safe base64 from version 4', () => {
    // Find a depth whose hash needs a character where the two alphabets differ.
    let depth = 0;
    let hash = computeReferenceHash({ ...v4Message, depth }, v('3'));
    while (!/[+/]/.test(hash.toString('base64').slice(0, 43))) hash = computeReferenceHash({ ...v4Message, depth: ++depth }, v('3'));
    const ev = { ...v4Message, depth };
    const v3Id = computeEventId(ev, v('3'));
    const v4Id = computeEventId(ev, v('4'));
    expect(v3Id).to.match(/^\$[A-Za-z0-9+/]{43}$/).and.match(/[+/]/);
    expect(v4Id).to.match(/^\$[A-Za-z0-9_-]{43}$/).and.match(/[-_]/);
    expect(v4Id.slice(1)).to.equal(v3Id.slice(1).replace(/\+/g, '-').replace(/\//g, '_'));
    expect(computeEventId(ev, v('11'))).to.equal(v4Id);
  });

  it('takes the event_id from the PDU in room versions 1 and 2', () => {
    expect(computeEventId(messageEvent, v('1'))).to.equal('$0:domain');
    expect(computeEventId(messageEvent, v('2'))).to.equal('$0:domain');
    expect(() => computeEventId(v4Message, v('1'))).to.throw(/event_id/);
  });
});
