/**
 * The room version 12 create event in federation form: it never carries a room_id.
 */
import { expect } from 'chai';
import { buildEvent, fromFederationFormat, roomIdFromCreateEvent, toFederationFormat, verifyEventSignatures, type EventProto } from '../../../src/matrix/pdu.js';
import { getRoomVersion, type RoomVersion } from '../../../src/matrix/room-versions.js';
import { signingKeyFromSeed } from '../../../src/matrix/signing.js';

function v(id: string): RoomVersion {
  return getRoomVersion(id)!;
}

const HS = 'hs.example';
const hsKey = signingKeyFromSeed(Buffer.alloc(32, 3), 'a1');
const lookup = (server: string, keyId: string) => (server === HS && keyId === hsKey.keyId ? hsKey.publicKeyBase64 : undefined);

function message(overrides: Partial<EventProto> = {}): EventProto {
  return {
    type: 'm.room.message',
    sender: `@alice:${HS}`,
    room_id: `!room:${HS}`,
    content: { msgtype: 'm.text', body: 'hello' },
    prev_events: ['$prev'],
    auth_events: ['$pl', '$member'],
    depth: 10,
    origin_server_ts: 1_700_000_000_000,
    ...overrides,
  };
}

describe('federation format of the v12 create event', () => {
  // spec: Room Version 12 §"Event format" (pdu_v12 room_id: "Omitted from m.room.create
  // events"). The rest of the server gives the normalised create event its derived room ID, so the
  // wire form and the room ID must not depend on whether that was done.
  it('v12: the federation form of a create event never carries a room_id, even when the normalised one does', () => {
    const create = buildEvent(
      { type: 'm.room.create', state_key: '', sender: `@alice:${HS}`, content: { room_version: '12' }, prev_events: [], auth_events: [], depth: 1, origin_server_ts: 1 },
      v('12'),
      HS,
      hsKey,
    );
    const roomId = roomIdFromCreateEvent(create);
    const withRoomId = { ...create, room_id: roomId };
    const wire = toFederationFormat(withRoomId, v('12'));
    expect(wire).to.not.have.property('room_id');
    expect(wire).to.deep.equal(toFederationFormat(create, v('12')));
    expect(roomIdFromCreateEvent(withRoomId)).to.equal(roomId);
    expect(fromFederationFormat(wire, v('12')).event_id).to.equal(create.event_id);
    expect(verifyEventSignatures(wire, v('12'), lookup)).to.deep.equal({ ok: true });
    // Other events, and create events of earlier versions, keep theirs.
    const v11Create = buildEvent(message({ type: 'm.room.create', state_key: '', content: {}, prev_events: [], auth_events: [] }), v('11'), HS, hsKey);
    expect(toFederationFormat(v11Create, v('11'))['room_id']).to.equal(`!room:${HS}`);
    const member = buildEvent(message({ type: 'm.room.member', state_key: `@alice:${HS}`, room_id: roomId, content: { membership: 'join' } }), v('12'), HS, hsKey);
    expect(toFederationFormat(member, v('12'))['room_id']).to.equal(roomId);
  });
});
