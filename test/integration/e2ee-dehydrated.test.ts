/** MSC3814 dehydrated devices at Synapse's unstable paths, over HTTP with real signatures. */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { signingKeyFromSeed, signBytes, signedJsonBytes, type SigningKey } from '../../src/matrix/signing.js';

const PREFIX = '/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device';

function sign<T extends Record<string, any>>(obj: T, signer: string, keyId: string, key: SigningKey): T {
  const signature = signBytes(key, signedJsonBytes(obj));
  return { ...obj, signatures: { ...(obj.signatures ?? {}), [signer]: { ...(obj.signatures?.[signer] ?? {}), [keyId]: signature } } };
}

function dehydratedBody(user: TestUser, deviceId: string, key: SigningKey) {
  const deviceKeys = sign(
    {
      user_id: user.userId,
      device_id: deviceId,
      algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
      keys: { [`curve25519:${deviceId}`]: 'Y3VydmU', [`ed25519:${deviceId}`]: key.publicKeyBase64 },
      dehydrated: true,
    },
    user.userId,
    `ed25519:${deviceId}`,
    key,
  );
  const otk = sign({ key: 'b3Rr' }, user.userId, `ed25519:${deviceId}`, key);
  const fallback = sign({ key: 'ZmI', fallback: true }, user.userId, `ed25519:${deviceId}`, key);
  return {
    device_id: deviceId,
    device_data: { algorithm: 'org.matrix.msc3814.v2', device_pickle: 'opaque', nonce: 'n' },
    initial_device_display_name: 'Dehydrated device',
    device_keys: deviceKeys,
    one_time_keys: { 'signed_curve25519:AAAA': otk },
    fallback_keys: { 'signed_curve25519:FB': fallback },
  };
}

describe('e2ee: dehydrated devices (MSC3814)', () => {
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const call = (method: string, path: string, user: TestUser, body?: unknown) => t.request(method, path, { token: user.accessToken, body });

  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser();
    bob = await t.registerUser();
  });
  after(async () => t?.close());

  it('answers 404 M_NOT_FOUND (supported, none yet), not M_UNRECOGNIZED', async () => {
    const res = await call('GET', PREFIX, alice);
    expect(res.status).to.equal(404);
    expect(res.body.errcode).to.equal('M_NOT_FOUND');
  });

  it('stores a dehydrated device with its keys, and replaces it', async () => {
    const key = signingKeyFromSeed(randomBytes(32), 'k');
    const put = await call('PUT', PREFIX, alice, dehydratedBody(alice, 'DEHYDRATED1', key));
    expect(put.status).to.equal(200);
    expect(put.body).to.deep.equal({ device_id: 'DEHYDRATED1' });
    const got = await call('GET', PREFIX, alice);
    expect(got.body.device_id).to.equal('DEHYDRATED1');
    expect(got.body.device_data.device_pickle).to.equal('opaque');
    const q = await call('POST', '/_matrix/client/v3/keys/query', bob, { device_keys: { [alice.userId]: [] } });
    expect(q.body.device_keys[alice.userId].DEHYDRATED1.dehydrated).to.equal(true);
    const claim = await call('POST', '/_matrix/client/v3/keys/claim', bob, { one_time_keys: { [alice.userId]: { DEHYDRATED1: 'signed_curve25519' } } });
    expect(Object.keys(claim.body.one_time_keys[alice.userId].DEHYDRATED1)).to.deep.equal(['signed_curve25519:AAAA']);

    const key2 = signingKeyFromSeed(randomBytes(32), 'k');
    expect((await call('PUT', PREFIX, alice, dehydratedBody(alice, 'DEHYDRATED2', key2))).status).to.equal(200);
    const q2 = await call('POST', '/_matrix/client/v3/keys/query', bob, { device_keys: { [alice.userId]: [] } });
    expect(q2.body.device_keys[alice.userId]).to.not.have.property('DEHYDRATED1');
    expect(q2.body.device_keys[alice.userId]).to.have.property('DEHYDRATED2');
    const devices = await call('GET', '/_matrix/client/v3/devices', alice);
    expect(devices.body.devices.map((d: any) => d.device_id)).to.not.include('DEHYDRATED1');
  });

  it('refuses a forged signature and a device ID already in use, storing nothing', async () => {
    const key = signingKeyFromSeed(randomBytes(32), 'k');
    const body = dehydratedBody(alice, 'DEHYDRATED3', key);
    body.device_keys.keys['ed25519:DEHYDRATED3'] = signingKeyFromSeed(randomBytes(32), 'k').publicKeyBase64;
    const bad = await call('PUT', PREFIX, alice, body);
    expect(bad.status).to.equal(400);
    expect(bad.body.errcode).to.equal('M_INVALID_SIGNATURE');
    expect((await call('GET', PREFIX, alice)).body.device_id).to.equal('DEHYDRATED2');
    const clash = await call('PUT', PREFIX, alice, dehydratedBody(alice, alice.deviceId, key));
    expect(clash.status).to.equal(400);
    const noKeys = await call('PUT', PREFIX, alice, { device_id: 'X', device_data: { algorithm: 'a' } });
    expect(noKeys.status).to.equal(400);
  });

  it('delivers to-device messages through the events endpoint, in batches', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await call('PUT', `/_matrix/client/v3/sendToDevice/m.test/txn${i}`, bob, { messages: { [alice.userId]: { DEHYDRATED2: { n: i } } } });
      expect(res.status).to.equal(200);
    }
    const first = await call('POST', `${PREFIX}/DEHYDRATED2/events`, alice, {});
    expect(first.status).to.equal(200);
    expect(first.body.events.map((e: any) => e.content.n)).to.deep.equal([0, 1, 2]);
    expect(first.body.events[0]).to.include({ sender: bob.userId, type: 'm.test' });
    const next = await call('POST', `${PREFIX}/DEHYDRATED2/events`, alice, { next_batch: first.body.next_batch });
    expect(next.body.events).to.deep.equal([]);
    // matrix-js-sdk's form: GET ?from=, ending when next_batch is left out.
    await call('PUT', '/_matrix/client/v3/sendToDevice/m.test/txn9', bob, { messages: { [alice.userId]: { DEHYDRATED2: { n: 9 } } } });
    const viaGet = await call('GET', `${PREFIX}/DEHYDRATED2/events?from=${next.body.next_batch}`, alice);
    expect(viaGet.body.events.map((e: any) => e.content.n)).to.deep.equal([9]);
    const end = await call('GET', `${PREFIX}/DEHYDRATED2/events?from=${viaGet.body.next_batch}`, alice);
    expect(end.body).to.deep.equal({ events: [] });
    const other = await call('POST', `${PREFIX}/${alice.deviceId}/events`, alice, {});
    expect(other.status).to.equal(403);
  });

  it('deletes the dehydrated device and its keys', async () => {
    const del = await call('DELETE', PREFIX, alice);
    expect(del.body).to.deep.equal({ device_id: 'DEHYDRATED2' });
    expect((await call('GET', PREFIX, alice)).status).to.equal(404);
    expect((await call('DELETE', PREFIX, alice)).status).to.equal(404);
    let keys: Record<string, unknown> = {};
    for (let i = 0; i < 20; i++) {
      keys = (await call('POST', '/_matrix/client/v3/keys/query', bob, { device_keys: { [alice.userId]: [] } })).body.device_keys[alice.userId];
      if (!('DEHYDRATED2' in keys)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(keys).to.not.have.property('DEHYDRATED2');
  });
});
