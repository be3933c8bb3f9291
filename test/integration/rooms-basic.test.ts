import { expect } from 'chai';
import { startTestServer, type TestServer } from '../harness.js';
import { sdkClient } from '../sdk.js';

describe('rooms: create, join, send, state', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(async () => t?.close());

  for (const version of ['10', '11', '12']) {
    it(`creates a v${version} room, joins, sends and sets state`, async () => {
      const alice = await t.registerUser();
      const bob = await t.registerUser();
      const a = sdkClient(t.baseUrl, alice);
      const b = sdkClient(t.baseUrl, bob);
      const { room_id } = await a.createRoom({ preset: 'public_chat' as any, name: 'Room', topic: 'Topic', room_version: version });
      expect(room_id).to.match(/^!/);
      if (version === '12') expect(room_id).to.not.include(':');
      await b.joinRoom(room_id);
      const sent = await b.sendTextMessage(room_id, 'hello');
      expect(sent.event_id).to.match(/^\$/);
      const again = await t.request('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(room_id)}/send/m.room.message/txn1`, { token: bob.accessToken, body: { msgtype: 'm.text', body: 'x' } });
      const again2 = await t.request('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(room_id)}/send/m.room.message/txn1`, { token: bob.accessToken, body: { msgtype: 'm.text', body: 'x' } });
      expect(again.status).to.equal(200);
      expect(again2.body.event_id).to.equal(again.body.event_id);
      // Bob (PL 0) may not change the name; Alice (creator) may.
      const refused = await t.request('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(room_id)}/state/m.room.name/`, { token: bob.accessToken, body: { name: 'nope' } });
      expect(refused.status).to.equal(403);
      expect(refused.body.errcode).to.equal('M_FORBIDDEN');
      await a.setRoomName(room_id, 'Renamed');
      const red = await a.redactEvent(room_id, sent.event_id);
      expect(red.event_id).to.match(/^\$/);
      const joined = await b.getJoinedRooms();
      expect(joined.joined_rooms).to.include(room_id);
    });
  }
});
