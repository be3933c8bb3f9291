import { expect } from 'chai';
import { RouteTable } from '../../../src/api/http/route-table.js';

describe('RouteTable', () => {
  const table = new RouteTable<string>();
  table.add('GET', '/_matrix/client/v3/profile/:userId', 'profile');
  table.add('GET', '/_matrix/client/v3/profile/:userId/displayname', 'displayname');
  table.add('GET', '/_matrix/client/v3/profile/:userId/:keyName', 'field');
  table.add('PUT', '/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId', 'send');
  table.add('GET', '/_matrix/client/v3/pushrules/', 'pushrules');
  table.add('GET', '/_matrix/media/v3/download/:serverName/:mediaId{/:fileName}', 'download');
  table.add('GET', '/_matrix/client/v3/user/:userId/rooms/:roomId/tags', 'tags');
  table.add('GET', '/_matrix/client/v3/user/:userId/filter/:filterId', 'filter');

  it('finds a route and decodes its parameters', () => {
    const m = table.match('PUT', '/_matrix/client/v3/rooms/!a%3Ab.c/send/m.room.message/t%2F1');
    expect(m).to.deep.equal({ value: 'send', params: { roomId: '!a:b.c', eventType: 'm.room.message', txnId: 't/1' } });
  });

  it('prefers the route registered first where several match, as express did', () => {
    expect(table.match('GET', '/_matrix/client/v3/profile/@a:b/displayname')?.value).to.equal('displayname');
    expect(table.match('GET', '/_matrix/client/v3/profile/@a:b/avatar_url')?.params).to.deep.equal({ userId: '@a:b', keyName: 'avatar_url' });
  });

  it('allows one trailing slash on either side and ignores the case of literal segments', () => {
    expect(table.match('GET', '/_matrix/client/v3/pushrules')?.value).to.equal('pushrules');
    expect(table.match('GET', '/_matrix/client/v3/pushrules/')?.value).to.equal('pushrules');
    expect(table.match('GET', '/_matrix/client/v3/profile/@a:b/')?.value).to.equal('profile');
    expect(table.match('GET', '/_MATRIX/client/V3/pushrules')?.value).to.equal('pushrules');
  });

  it('matches an optional last parameter with and without it', () => {
    expect(table.match('GET', '/_matrix/media/v3/download/hs/abc')?.params).to.deep.equal({ serverName: 'hs', mediaId: 'abc' });
    expect(table.match('GET', '/_matrix/media/v3/download/hs/abc/cat.png')?.params).to.deep.equal({ serverName: 'hs', mediaId: 'abc', fileName: 'cat.png' });
  });

  it('keeps parameter names per route where routes share a position', () => {
    expect(table.match('GET', '/_matrix/client/v3/user/@u:h/rooms/!r:h/tags')?.params).to.deep.equal({ userId: '@u:h', roomId: '!r:h' });
    expect(table.match('GET', '/_matrix/client/v3/user/@u:h/filter/7')?.params).to.deep.equal({ userId: '@u:h', filterId: '7' });
  });

  it('answers nothing for unknown paths and empty parameters, and names the methods a path has', () => {
    expect(table.match('GET', '/_matrix/client/v3/nothing')).to.equal(undefined);
    expect(table.match('GET', '/_matrix/client/v3/profile//displayname')).to.equal(undefined);
    const allowed = new Set<string>();
    expect(table.match('GET', '/_matrix/client/v3/rooms/!r:h/send/m.room.message/1', allowed)).to.equal(undefined);
    expect([...allowed]).to.deep.equal(['PUT']);
  });

  it('serves GET routes to HEAD', () => {
    expect(table.match('HEAD', '/_matrix/client/v3/pushrules')?.value).to.equal('pushrules');
  });

  it('throws URIError for a malformed escape (answered as M_INVALID_PARAM)', () => {
    expect(() => table.match('GET', '/_matrix/client/v3/profile/%E0%A4%A')).to.throw(URIError);
  });
});
