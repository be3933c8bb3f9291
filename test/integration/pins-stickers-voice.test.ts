import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdkClient } from '../sdk.js';

/**
 * The messenger's pinned messages (m.room.pinned_events under power levels), stickers, voice
 * messages (MSC3245 on m.audio) and mentions (m.mentions): each round-trips unchanged through
 * GET /event, /messages and another member's /sync.
 */
describe('pins, stickers, voice messages and mentions', () => {
  let t: TestServer;
  let alice: TestUser; // room creator, PL 100
  let bob: TestUser; // member, later moderator
  let carol: TestUser; // member, PL 0
  let roomId: string;
  const enc = encodeURIComponent;
  let txn = 0;

  // A 1×1 transparent PNG.
  const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
  // The first bytes of an Ogg Opus file: enough to stand for a voice note.
  const OGG = Buffer.concat([Buffer.from('OggS'), Buffer.alloc(60, 1)]);

  /** Uploads through the media repository when it is there; otherwise a made-up mxc URI. */
  const upload = async (bytes: Buffer, contentType: string, filename: string): Promise<{ uri: string; real: boolean }> => {
    const res = await fetch(`${t.baseUrl}/_matrix/media/v3/upload?filename=${enc(filename)}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${alice.accessToken}`, 'Content-Type': contentType },
      body: bytes,
    });
    const body = (await res.json().catch(() => ({}))) as { content_uri?: string; errcode?: string };
    if (res.status === 404 && body.errcode === 'M_UNRECOGNIZED') return { uri: `mxc://test.local/fake${filename.replace(/\W/g, '')}`, real: false };
    expect(res.status, JSON.stringify(body)).to.equal(200);
    expect(body.content_uri).to.match(/^mxc:\/\/test\.local\/.+/);
    return { uri: body.content_uri!, real: true };
  };

  const send = async (user: TestUser, type: string, content: Record<string, unknown>) => {
    const res = await t.request('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/${type}/p${txn++}`, { token: user.accessToken, body: content });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.event_id as string;
  };
  const putState = (user: TestUser, type: string, content: unknown) =>
    t.request('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/${type}/`, { token: user.accessToken, body: content });
  const syncToken = async (user: TestUser) => (await t.request('GET', '/_matrix/client/v3/sync?timeout=0', { token: user.accessToken })).body.next_batch as string;

  /** Sends as alice; bob's /sync, /messages and GET /event must all return the content unchanged. */
  const roundTrip = async (type: string, content: Record<string, unknown>) => {
    const since = await syncToken(bob);
    const eventId = await send(alice, type, content);

    const single = await t.request('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(eventId)}`, { token: bob.accessToken });
    expect(single.status).to.equal(200);
    expect(single.body.type).to.equal(type);
    expect(single.body.content).to.deep.equal(content);

    const messages = await t.request('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=5`, { token: bob.accessToken });
    const fromMessages = (messages.body.chunk as any[]).find((e) => e.event_id === eventId);
    expect(fromMessages, 'in /messages').to.not.equal(undefined);
    expect(fromMessages.content).to.deep.equal(content);

    let fromSync: any;
    let next = since;
    for (let i = 0; i < 5 && !fromSync; i++) {
      const res = await t.request('GET', `/_matrix/client/v3/sync?since=${enc(next)}&timeout=3000`, { token: bob.accessToken });
      fromSync = ((res.body.rooms?.join?.[roomId]?.timeline?.events ?? []) as any[]).find((e) => e.event_id === eventId);
      next = res.body.next_batch;
    }
    expect(fromSync, 'in /sync').to.not.equal(undefined);
    expect(fromSync.type).to.equal(type);
    expect(fromSync.content).to.deep.equal(content);
    return eventId;
  };

  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser();
    bob = await t.registerUser();
    carol = await t.registerUser();
    roomId = (await t.request('POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, body: { preset: 'public_chat', name: 'pins' } })).body.room_id;
    for (const u of [bob, carol]) expect((await t.request('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { token: u.accessToken, body: {} })).status).to.equal(200);
  });
  after(async () => t?.close());

  it('lets moderators pin messages and refuses ordinary members (state_default 50)', async () => {
    const first = await send(alice, 'm.room.message', { msgtype: 'm.text', body: 'Office closed on Friday' });
    const second = await send(carol, 'm.room.message', { msgtype: 'm.text', body: 'VPN how-to' });

    const refused = await putState(bob, 'm.room.pinned_events', { pinned: [first] });
    expect(refused.status).to.equal(403);
    expect(refused.body.errcode).to.equal('M_FORBIDDEN');
    const none = await t.request('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.pinned_events/`, { token: bob.accessToken });
    expect(none.status).to.equal(404);

    // Make bob a moderator.
    const levels = (await t.request('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.power_levels/`, { token: alice.accessToken })).body;
    expect(levels.state_default ?? 50).to.equal(50);
    expect(levels.events?.['m.room.pinned_events']).to.equal(undefined);
    levels.users[bob.userId] = 50;
    expect((await putState(alice, 'm.room.power_levels', levels)).status).to.equal(200);

    const pinned = await putState(bob, 'm.room.pinned_events', { pinned: [first, second] });
    expect(pinned.status, JSON.stringify(pinned.body)).to.equal(200);
    const state = await t.request('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.pinned_events/`, { token: carol.accessToken });
    expect(state.body).to.deep.equal({ pinned: [first, second] });
    // Carol, at power level 0, still cannot unpin.
    expect((await putState(carol, 'm.room.pinned_events', { pinned: [] })).status).to.equal(403);

    // Through matrix-js-sdk, as Element pins: a room that lowers the level lets everyone pin.
    levels.events['m.room.pinned_events'] = 0;
    expect((await putState(alice, 'm.room.power_levels', levels)).status).to.equal(200);
    const client = sdkClient(t.baseUrl, carol);
    await client.sendStateEvent(roomId, 'm.room.pinned_events' as any, { pinned: [second] } as any, '');
    const after = await t.request('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.pinned_events/`, { token: alice.accessToken });
    expect(after.body).to.deep.equal({ pinned: [second] });
  });

  it('round-trips a sticker with its image', async () => {
    const image = await upload(PNG, 'image/png', 'cat.png');
    const content = {
      body: 'Cat waving',
      info: { mimetype: 'image/png', w: 1, h: 1, size: PNG.length, thumbnail_url: image.uri, thumbnail_info: { mimetype: 'image/png', w: 1, h: 1, size: PNG.length } },
      url: image.uri,
    };
    await roundTrip('m.sticker', content);
    if (image.real) {
      // The member who received the sticker can fetch its image.
      const [server, mediaId] = image.uri.slice('mxc://'.length).split('/');
      const res = await fetch(`${t.baseUrl}/_matrix/client/v1/media/download/${server}/${mediaId}`, { headers: { Authorization: `Bearer ${bob.accessToken}` } });
      expect(res.status).to.equal(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(PNG)).to.equal(true);
    }
  });

  it('round-trips a voice message (m.audio with MSC3245 voice, MSC1767 duration and waveform)', async () => {
    const audio = await upload(OGG, 'audio/ogg', 'voice.ogg');
    const waveform = Array.from({ length: 40 }, (_, i) => (i * 97) % 1024);
    const content = {
      msgtype: 'm.audio',
      body: 'Voice message',
      url: audio.uri,
      info: { mimetype: 'audio/ogg', size: OGG.length, duration: 4210 },
      'org.matrix.msc1767.text': 'Voice message',
      'org.matrix.msc1767.file': { url: audio.uri, name: 'voice.ogg', mimetype: 'audio/ogg', size: OGG.length },
      'org.matrix.msc1767.audio': { duration: 4210, waveform },
      'org.matrix.msc3245.voice': {},
    };
    await roundTrip('m.room.message', content);
  });

  it('keeps m.mentions in messages and in edits', async () => {
    const mention = {
      msgtype: 'm.text',
      body: 'Bob: the report is ready',
      format: 'org.matrix.custom.html',
      formatted_body: `<a href="https://matrix.to/#/${bob.userId}">Bob</a>: the report is ready`,
      'm.mentions': { user_ids: [bob.userId] },
    };
    const original = await roundTrip('m.room.message', mention);
    await roundTrip('m.room.message', { msgtype: 'm.text', body: 'Everyone: standup now', 'm.mentions': { room: true } });
    await roundTrip('m.room.message', {
      msgtype: 'm.text',
      body: '* Bob and Carol: the report is ready',
      'm.new_content': { msgtype: 'm.text', body: 'Bob and Carol: the report is ready', 'm.mentions': { user_ids: [bob.userId, carol.userId] } },
      'm.mentions': { user_ids: [carol.userId] },
      'm.relates_to': { rel_type: 'm.replace', event_id: original },
    });
    // An empty m.mentions (mention nobody) is kept as sent, not dropped.
    await roundTrip('m.room.message', { msgtype: 'm.text', body: 'no pings', 'm.mentions': {} });
  });
});
