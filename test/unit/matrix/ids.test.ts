import { expect } from 'chai';
import {
  isCompliantUserId,
  isValidEventId,
  isValidLocalpart,
  isValidRoomAlias,
  isValidRoomId,
  isValidServerName,
  isValidUserId,
  parseUserId,
  serverNameOf,
} from '../../../src/matrix/ids.js';
import { getRoomVersion, type RoomVersion } from '../../../src/matrix/room-versions.js';

function v(id: string): RoomVersion {
  return getRoomVersion(id)!;
}

const HASH43 = 'Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg';
const STD43 = 'abc+/def' + '0'.repeat(35);

describe('server names', () => {
  // spec: Appendices §"Server Name" examples.
  for (const name of ['matrix.org', 'matrix.org:8888', '1.2.3.4', '1.2.3.4:1234', '[1234:5678::abcd]', '[1234:5678::abcd]:5678']) {
    it(`accepts the spec example ${name}`, () => expect(isValidServerName(name)).to.equal(true));
  }

  it('accepts other valid forms', () => {
    for (const name of ['localhost', 'MATRIX.ORG', 'a-b.c', '[::1]', '[::]:80', '[::ffff:1.2.3.4]', '[1:2:3:4:5:6:7:8]', '[1:2:3:4:5:6:1.2.3.4]', '1.2.3.4.5']) {
      expect(isValidServerName(name), name).to.equal(true);
    }
  });

  it('rejects malformed names', () => {
    const bad = ['', 'matrix.org:', 'matrix.org:123456', 'matrix.org:80a', 'exa mple.org', 'a..b', '.a', 'a_b.org', 'héllo.org',
      '[1234:5678::abcd', '[1234::5678::abcd]', '[1:2:3:4:5:6:7:8:9]', '[1:2:3:4:5:6:7]', '[12345::]', '[::1]x', '[1.2.3.4]',
      '1.2.3.256', 'a:b:c', `${'a'.repeat(256)}`];
    for (const name of bad) expect(isValidServerName(name), name).to.equal(false);
  });
});

describe('user IDs', () => {
  it('parses a user ID, splitting at the first colon', () => {
    expect(parseUserId('@alice:example.org')).to.deep.equal({ localpart: 'alice', serverName: 'example.org' });
    expect(parseUserId('@alice:example.org:8448')).to.deep.equal({ localpart: 'alice', serverName: 'example.org:8448' });
    expect(parseUserId('@a:[::1]:8448')).to.deep.equal({ localpart: 'a', serverName: '[::1]:8448' });
  });

  it('accepts historical localparts from remote servers', () => {
    for (const id of ['@Alice:example.org', '@:example.org', '@ali ce\u0001!:example.org', '@日本:example.org']) {
      expect(isValidUserId(id), id).to.equal(true);
      expect(isCompliantUserId(id), id).to.equal(false);
    }
  });

  it('rejects NUL, lone surrogates, missing sigil or colon and bad server names', () => {
    for (const id of ['@a\u0000b:example.org', '@a\uD800:example.org', 'alice:example.org', '@alice', '@alice:exa mple.org', '#a:example.org']) {
      expect(parseUserId(id), JSON.stringify(id)).to.equal(null);
    }
  });

  it('enforces the 255-byte limit in bytes', () => {
    const server = 'example.org';
    const fits = `@${'a'.repeat(255 - 2 - server.length)}:${server}`;
    expect(Buffer.byteLength(fits)).to.equal(255);
    expect(isValidUserId(fits)).to.equal(true);
    expect(isValidUserId(`@a${fits.slice(1)}`)).to.equal(false);
    // 2 bytes per character: 127 'é' is 254 bytes of localpart.
    expect(isValidUserId(`@${'é'.repeat(127)}:${server}`)).to.equal(false);
  });

  it('allows only a-z 0-9 . _ = - / + in new localparts', () => {
    expect(isValidLocalpart('alice.b_c=d-e/f+9')).to.equal(true);
    for (const lp of ['', 'Alice', 'ali ce', 'é', 'a:b', 'a#b', 'a*b']) expect(isValidLocalpart(lp), lp).to.equal(false);
    expect(isCompliantUserId('@alice:example.org')).to.equal(true);
  });
});

describe('room IDs, event IDs and aliases', () => {
  it('room IDs: domain form before v12, hash form from v12', () => {
    expect(isValidRoomId('!abc:example.org')).to.equal(true);
    expect(isValidRoomId(`!${HASH43}`)).to.equal(true);
    expect(isValidRoomId('!abc:example.org', v('11'))).to.equal(true);
    expect(isValidRoomId(`!${HASH43}`, v('11'))).to.equal(false);
    expect(isValidRoomId(`!${HASH43}`, v('12'))).to.equal(true);
    expect(isValidRoomId('!abc:example.org', v('12'))).to.equal(false);
    for (const bad of ['abc:example.org', '!abc', '!:example.org', '!a\u0000:example.org', '!abc:bad server', `!${'a'.repeat(250)}:x.org`]) {
      expect(isValidRoomId(bad), bad).to.equal(false);
    }
  });

  it('event IDs per room version', () => {
    expect(isValidEventId('$abc:example.org', v('1'))).to.equal(true);
    expect(isValidEventId(`$${HASH43}`, v('1'))).to.equal(false);
    expect(isValidEventId(`$${STD43}`, v('3'))).to.equal(true);
    expect(isValidEventId(`$${HASH43}`, v('3'))).to.equal(false);
    expect(isValidEventId(`$${HASH43}`, v('4'))).to.equal(true);
    expect(isValidEventId(`$${STD43}`, v('4'))).to.equal(false);
    expect(isValidEventId(`$${HASH43}x`, v('11'))).to.equal(false);
    expect(isValidEventId(`$${HASH43}`)).to.equal(true);
    expect(isValidEventId('$abc:example.org')).to.equal(true);
    expect(isValidEventId('abc:example.org')).to.equal(false);
    expect(isValidEventId(`$${'a'.repeat(250)}:x.org`)).to.equal(false);
  });

  it('room aliases', () => {
    expect(isValidRoomAlias('#room:example.org')).to.equal(true);
    expect(isValidRoomAlias('#Ünïcode room:example.org:8448')).to.equal(true);
    for (const bad of ['room:example.org', '#room', '#:example.org', '#a\u0000:example.org', '#room:bad server', `#${'a'.repeat(250)}:x.org`]) {
      expect(isValidRoomAlias(bad), bad).to.equal(false);
    }
  });

  it('serverNameOf', () => {
    expect(serverNameOf('@alice:example.org:8448')).to.equal('example.org:8448');
    expect(serverNameOf('!r:example.org')).to.equal('example.org');
    expect(serverNameOf('#a:b.org')).to.equal('b.org');
    expect(serverNameOf('$e:c.org')).to.equal('c.org');
    expect(serverNameOf(`$${HASH43}`)).to.equal(null);
    expect(serverNameOf('alice:example.org')).to.equal(null);
  });
});
