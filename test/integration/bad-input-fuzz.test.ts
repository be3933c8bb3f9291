/**
 * Regression tests for what property-based fuzzing of the room endpoints (schemathesis against the
 * spec's OpenAPI files, plus targeted probes of what the schemas cannot express) found: each input
 * once answered 500 or a reply that was not a Matrix error. Every case asserts the Matrix error
 * now given and that nothing stored changed.
 */
import { connect } from 'node:net';
import { expect } from 'chai';
import type { TestUser } from '../harness.js';
import { countRows, expectMatrixError, useServer } from './helpers/index.js';
import { CS, createRoomRaw, enc, membershipOf, putStateRaw, roomRowCounts, stateContent } from './helpers/rooms.js';

const json = { 'Content-Type': 'application/json' };

describe('bad input found by fuzzing the room endpoints', () => {
  const s = useServer();
  let alice: TestUser;
  let roomId: string;
  let eventId: string;

  before(async () => {
    alice = await s.t.registerUser('fuzzalice');
    const res = await createRoomRaw(s.t, alice, { preset: 'public_chat' });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    roomId = res.body.room_id;
    const sent = await s.t.request('PUT', `${CS}/rooms/${enc(roomId)}/send/m.room.message/seed`, { token: alice.accessToken, body: { msgtype: 'm.text', body: 'hi' } });
    expect(sent.status).to.equal(200);
    eventId = sent.body.event_id;
  });

  describe('PUT /rooms/{roomId}/state/{eventType}/{stateKey}', () => {
    it("content that is not canonical JSON, replacing the sender's own state: 400 M_BAD_JSON, state kept", async () => {
      expect((await putStateRaw(s.t, alice, roomId, 'org.example.fuzz', '0', { n: 1 })).status).to.equal(200);
      const before = await roomRowCounts(s.t);
      // A float, an integer beyond 2^53-1 and a tiny exponent: none has a canonical encoding.
      for (const content of [{ n: 1.5 }, { error: [0, 0, 60165539854428870] }, { a: { b: -1.4e234 } }, { x: 4.7e-162 }]) {
        expectMatrixError(await putStateRaw(s.t, alice, roomId, 'org.example.fuzz', '0', content), 400, 'M_BAD_JSON');
      }
      expect(await roomRowCounts(s.t)).to.deep.equal(before);
      expect(await stateContent(s.t, alice, roomId, 'org.example.fuzz', '0')).to.deep.equal({ n: 1 });
    });
  });

  describe('POST /rooms/{roomId}/report/{eventId}', () => {
    it('any integer score is kept, as Synapse keeps it; one beyond canonical JSON is 400 M_BAD_JSON and stores nothing', async () => {
      const path = `${CS}/rooms/${enc(roomId)}/report/${enc(eventId)}`;
      const before = await countRows(s.t, 'event_reports');
      for (const score of [1e300, 2 ** 53, 1.5]) {
        expectMatrixError(await s.t.request('POST', path, { token: alice.accessToken, body: { score, reason: 'spam' } }), 400, 'M_BAD_JSON');
      }
      expect(await countRows(s.t, 'event_reports')).to.equal(before);
      for (const score of [-100, 3_000_000_000, 5]) {
        expect((await s.t.request('POST', path, { token: alice.accessToken, body: { score, reason: 'spam' } })).status).to.equal(200);
      }
      const { rows } = await s.t.server.services.storage.db.query<{ score: number }>('SELECT score FROM event_reports ORDER BY id DESC LIMIT 3');
      expect(rows.map((r) => r.score)).to.deep.equal([5, 3_000_000_000, -100]);
    });
  });

  describe('GET and POST /publicRooms', () => {
    it('a `server` that is not a server name: 400 M_INVALID_PARAM, not a 502 from federation', async () => {
      for (const server of ['Á1ÅÀ', 'bad server', 'host:port', '[::1', 'a/b']) {
        const query = `?server=${enc(server)}`;
        expectMatrixError(await s.t.request('GET', `${CS}/publicRooms${query}`, { token: alice.accessToken }), 400, 'M_INVALID_PARAM');
        expectMatrixError(await s.t.request('POST', `${CS}/publicRooms${query}`, { token: alice.accessToken, body: {} }), 400, 'M_INVALID_PARAM');
      }
      // This server's own name still lists its directory.
      expect((await s.t.request('GET', `${CS}/publicRooms?server=test.local`, { token: alice.accessToken })).status).to.equal(200);
    });
  });

  describe('request bodies nested thousands deep', () => {
    const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

    it('send, state, createRoom and report: 400 M_BAD_JSON, not a stack overflow; nothing stored', async () => {
      const before = await roomRowCounts(s.t);
      const reports = await countRows(s.t, 'event_reports');
      const deep = nested(5000);
      const cases: [string, string, string][] = [
        ['PUT', `${CS}/rooms/${enc(roomId)}/send/m.room.message/deep1`, `{"msgtype":"m.text","body":"x","a":${deep}}`],
        ['PUT', `${CS}/rooms/${enc(roomId)}/state/org.example.deep/`, `{"a":${deep}}`],
        ['POST', `${CS}/createRoom`, `{"creation_content":{"a":${deep}}}`],
        ['POST', `${CS}/rooms/${enc(roomId)}/report/${enc(eventId)}`, `{"reason":"x","a":${deep}}`],
        // A NUL that deep once sent the NUL check itself into a stack overflow.
        ['POST', `${CS}/createRoom`, `{"a":${'['.repeat(20000)}"\\u0000"${']'.repeat(20000)}}`],
      ];
      for (const [method, path, rawBody] of cases) {
        expectMatrixError(await s.t.request(method, path, { token: alice.accessToken, rawBody, headers: json }), 400, 'M_BAD_JSON');
      }
      expect(await roomRowCounts(s.t)).to.deep.equal(before);
      expect(await countRows(s.t, 'event_reports')).to.equal(reports);
    });

    it('content nested a hundred deep is still sent', async () => {
      const rawBody = `{"msgtype":"m.text","body":"x","a":${nested(100)}}`;
      const res = await s.t.request('PUT', `${CS}/rooms/${enc(roomId)}/send/m.room.message/deep2`, { token: alice.accessToken, rawBody, headers: json });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
    });
  });

  describe('strings holding an unpaired surrogate (an escape such as "\\ud800")', () => {
    it('reports of events and rooms: 400 M_BAD_JSON, not a 500 from jsonb; no report stored', async () => {
      const reports = await countRows(s.t, 'event_reports');
      const cases: [string, string][] = [
        [`${CS}/rooms/${enc(roomId)}/report/${enc(eventId)}`, '{"reason":"\\ud800x"}'],
        [`${CS}/rooms/${enc(roomId)}/report/${enc(eventId)}`, '{"reason":"x","extra":{"k":"a\\udc00"}}'],
        [`${CS}/rooms/${enc(roomId)}/report/${enc(eventId)}`, '{"reason":"x","\\ud800":1}'],
        [`${CS}/rooms/${enc(roomId)}/report`, '{"reason":"\\ud800x"}'],
      ];
      for (const [path, rawBody] of cases) {
        expectMatrixError(await s.t.request('POST', path, { token: alice.accessToken, rawBody, headers: json }), 400, 'M_BAD_JSON');
      }
      expect(await countRows(s.t, 'event_reports')).to.equal(reports);
    });

    it('a repeated ban or a leave with such a reason: 400 M_BAD_JSON, memberships kept', async () => {
      const bob = await s.t.registerUser('fuzzbob');
      expect((await s.t.request('POST', `${CS}/join/${enc(roomId)}`, { token: bob.accessToken, body: {} })).status).to.equal(200);
      const ban = { user_id: '@nobody:test.local', reason: 'spam' };
      expect((await s.t.request('POST', `${CS}/rooms/${enc(roomId)}/ban`, { token: alice.accessToken, body: ban })).status).to.equal(200);
      const before = await roomRowCounts(s.t);
      const banAgain = '{"user_id":"@nobody:test.local","reason":"\\ud800"}';
      expectMatrixError(await s.t.request('POST', `${CS}/rooms/${enc(roomId)}/ban`, { token: alice.accessToken, rawBody: banAgain, headers: json }), 400, 'M_BAD_JSON');
      expectMatrixError(await s.t.request('POST', `${CS}/rooms/${enc(roomId)}/leave`, { token: bob.accessToken, rawBody: '{"reason":"\\ud800"}', headers: json }), 400, 'M_BAD_JSON');
      expect(await roomRowCounts(s.t)).to.deep.equal(before);
      expect(await membershipOf(s.t, roomId, bob.userId)).to.equal('join');
      expect(await membershipOf(s.t, roomId, '@nobody:test.local')).to.equal('ban');
    });

    it('an escaped surrogate pair (an emoji) is still a good string', async () => {
      const rawBody = '{"msgtype":"m.text","body":"\\ud83d\\ude00"}';
      const res = await s.t.request('PUT', `${CS}/rooms/${enc(roomId)}/send/m.room.message/pair`, { token: alice.accessToken, rawBody, headers: json });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const event = await s.t.request('GET', `${CS}/rooms/${enc(roomId)}/event/${enc(res.body.event_id)}`, { token: alice.accessToken });
      expect(event.body.content.body).to.equal('\u{1F600}');
    });
  });
  describe('restricted join rules with entries of another shape', () => {
    it('an allow list holding null lets nobody in through it, and joins are refused with 403, not 500', async () => {
      const bob = await s.t.registerUser();
      const res = await createRoomRaw(s.t, alice, {
        room_version: '10',
        initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'restricted', allow: [null, 'x', { type: 'm.room_membership', room_id: roomId }] } }],
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const restricted = res.body.room_id;
      expectMatrixError(await s.t.request('POST', `${CS}/join/${enc(restricted)}`, { token: bob.accessToken, body: {} }), 403, 'M_FORBIDDEN');
      // The well-formed entry still works: a member of the allowed room gets in.
      expect((await s.t.request('POST', `${CS}/join/${enc(roomId)}`, { token: bob.accessToken, body: {} })).status).to.equal(200);
      const joined = await s.t.request('POST', `${CS}/join/${enc(restricted)}`, { token: bob.accessToken, body: {} });
      expect(joined.status, JSON.stringify(joined.body)).to.equal(200);
    });
  });

  describe('PUT /pushrules/global/{kind}/{ruleId}', () => {
    it('actions or conditions that are not canonical JSON: 400 M_BAD_JSON, and the rules still load', async () => {
      const path = `${CS}/pushrules/global/override/fuzzed`;
      for (const body of [
        { actions: [{ set_tweak: 'x', value: 1.5 }], conditions: [] },
        { actions: ['notify'], conditions: [{ kind: 'event_property_is', key: 'content.n', value: 2 ** 60 }] },
      ]) {
        expectMatrixError(await s.t.request('PUT', path, { token: alice.accessToken, body }), 400, 'M_BAD_JSON');
      }
      const rules = await s.t.request('GET', `${CS}/pushrules/`, { token: alice.accessToken });
      expect(rules.status).to.equal(200);
      expect(rules.body.global.override.map((r: any) => r.rule_id)).to.not.include('fuzzed');
      // A message into her room is still evaluated for her (no failure on her rules).
      const sent = await s.t.request('PUT', `${CS}/rooms/${enc(roomId)}/send/m.room.message/after-rules`, { token: alice.accessToken, body: { msgtype: 'm.text', body: 'still fine' } });
      expect(sent.status).to.equal(200);
    });
  });
  describe('requests the HTTP parser cannot read', () => {
    /** Sends raw bytes and returns the status and parsed JSON body of the reply. */
    async function raw(request: string): Promise<{ status: number; body: any }> {
      const url = new URL(s.t.baseUrl);
      const text = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(url.port), url.hostname, () => socket.write(request));
        let data = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk) => (data += chunk));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
      });
      const [head, body] = text.split('\r\n\r\n');
      return { status: Number(head!.split(' ')[1]), body: JSON.parse(body!) };
    }

    it('an unknown method, an oversized URL or broken framing get a Matrix error body', async () => {
      const unknown = await raw('FOO /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(unknown).to.deep.equal({ status: 405, body: { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request method' } });
      const long = await raw(`GET /_matrix/client/versions?x=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(long.status).to.equal(431);
      expect(long.body.errcode).to.equal('M_TOO_LARGE');
      const broken = await raw('GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n');
      expect(broken.status).to.equal(400);
      expect(broken.body.errcode).to.equal('M_UNKNOWN');
    });
  });
  describe('GET /messages and /context filters holding U+0000', () => {
    it('400 M_BAD_JSON, not a 500 from SQL', async () => {
      for (const filter of [{ types: ['a\u0000'] }, { senders: ['@a\u0000:x'] }, { not_types: ['\u0000'] }]) {
        const f = enc(JSON.stringify(filter));
        expectMatrixError(await s.t.request('GET', `${CS}/rooms/${enc(roomId)}/messages?dir=b&filter=${f}`, { token: alice.accessToken }), 400, 'M_BAD_JSON');
        expectMatrixError(await s.t.request('GET', `${CS}/rooms/${enc(roomId)}/context/${enc(eventId)}?filter=${f}`, { token: alice.accessToken }), 400, 'M_BAD_JSON');
      }
    });
  });
});
