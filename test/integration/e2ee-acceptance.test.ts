/**
 * Issue 6's acceptance test, with real crypto: two matrix-js-sdk clients with Rust crypto
 * (@matrix-org/matrix-sdk-crypto-wasm, in-memory stores). Alice creates an encrypted room,
 * invites Bob, sends; Bob decrypts. Alice signs in on a second device, restores from key backup
 * and reads the history. Cross-signing bootstrap succeeds and Bob sees Alice's new device as hers.
 */
import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdk, quietLogger, type sdkClient } from '../sdk.js';
import { waitFor } from './helpers/index.js';

type Client = ReturnType<typeof sdkClient>;



async function cryptoClient(t: TestServer, user: TestUser): Promise<Client> {
  const client = sdk.createClient({ baseUrl: t.baseUrl, userId: user.userId, accessToken: user.accessToken, deviceId: user.deviceId, logger: quietLogger });
  await client.initRustCrypto({ useIndexedDB: false });
  const synced = new Promise<void>((resolve) => {
    const onSync = (state: string) => {
      if (state === 'PREPARED' || state === 'SYNCING') {
        client.off(sdk.ClientEvent.Sync, onSync);
        resolve();
      }
    };
    client.on(sdk.ClientEvent.Sync, onSync);
  });
  await client.startClient({ initialSyncLimit: 20 });
  await synced;
  return client;
}

function bodyOf(client: Client, roomId: string, text: string): string | undefined {
  const room = client.getRoom(roomId);
  const ev = room?.getLiveTimeline().getEvents().find((e) => e.getType() === 'm.room.message' && e.getContent().body === text);
  return ev?.getContent().body;
}

describe('e2ee: acceptance with matrix-js-sdk Rust crypto', function () {
  this.timeout(120_000);
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const clients: Client[] = [];

  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser();
    bob = await t.registerUser();
  });
  after(async () => {
    for (const c of clients) c.stopClient();
    await t?.close();
  });

  it('encrypts, decrypts, backs up, restores on a new device and cross-signs it', async () => {
    const a1 = await cryptoClient(t, alice);
    const b = await cryptoClient(t, bob);
    clients.push(a1, b);
    const crypto = a1.getCrypto()!;

    // Cross-signing bootstrap: the first upload needs no UIA (MSC3967); the callback covers UIA anyway.
    await crypto.bootstrapCrossSigning({
      authUploadDeviceSigningKeys: async (makeRequest) => {
        await makeRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.userId }, password: alice.password } as any);
      },
    });
    expect(await crypto.isCrossSigningReady()).to.equal(true);
    const status = await crypto.getCrossSigningStatus();
    expect(status.publicKeysOnDevice).to.equal(true);
    expect(status.privateKeysCachedLocally.masterKey).to.equal(true);

    // Key backup, so a later device can read history.
    await crypto.resetKeyBackup();
    const backupVersion = (await crypto.getActiveSessionBackupVersion())!;
    expect(backupVersion).to.be.a('string');

    const { room_id: roomId } = await a1.createRoom({
      name: 'Secret',
      invite: [bob.userId],
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    } as any);
    await waitFor('Bob to see the invite', () => b.getRoom(roomId)?.getMyMembership() === 'invite');
    await b.joinRoom(roomId);
    await waitFor('Alice to see Bob joined', () => a1.getRoom(roomId)?.getMember(bob.userId)?.membership === 'join');

    await a1.sendTextMessage(roomId, 'the secret is 42');
    const decrypted = await waitFor('Bob to decrypt', () => bodyOf(b, roomId, 'the secret is 42'));
    expect(decrypted).to.equal('the secret is 42');
    const ev = b.getRoom(roomId)!.getLiveTimeline().getEvents().find((e) => e.getContent().body === 'the secret is 42')!;
    expect(ev.isEncrypted()).to.equal(true);

    // The room key reaches the backup.
    await waitFor('the room key in the backup', async () => {
      const res = await t.request('GET', `/_matrix/client/v3/room_keys/keys?version=${backupVersion}`, { token: alice.accessToken });
      return Object.keys(res.body.rooms?.[roomId]?.sessions ?? {}).length > 0;
    });
    const backupKey = (await crypto.getSessionBackupPrivateKey())!;
    expect(backupKey).to.be.instanceOf(Uint8Array);

    // Alice signs in on a second device and restores the history from the backup.
    const login = await t.request('POST', '/_matrix/client/v3/login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.userId }, password: alice.password, initial_device_display_name: 'second' },
    });
    expect(login.status).to.equal(200);
    const alice2: TestUser = { ...alice, accessToken: login.body.access_token, deviceId: login.body.device_id };
    const a2 = await cryptoClient(t, alice2);
    clients.push(a2);
    await a2.getCrypto()!.storeSessionBackupPrivateKey(backupKey, backupVersion);
    const restored = await a2.getCrypto()!.restoreKeyBackup();
    expect(restored.imported).to.be.greaterThan(0);
    const history = await waitFor('the second device to read the history', async () => {
      const room = a2.getRoom(roomId);
      if (!room) return undefined;
      for (const e of room.getLiveTimeline().getEvents()) if (e.isEncrypted()) await a2.decryptEventIfNeeded(e);
      return bodyOf(a2, roomId, 'the secret is 42');
    });
    expect(history).to.equal('the secret is 42');

    // The first device cross-signs the second; Bob sees it as Alice's.
    await waitFor('device 1 to know device 2', async () => {
      const devices = await crypto.getUserDeviceInfo([alice.userId], true);
      return devices.get(alice.userId)?.has(alice2.deviceId);
    });
    await crypto.crossSignDevice(alice2.deviceId);
    const seen = await waitFor('Bob to see the new device signed by Alice', async () => {
      await b.getCrypto()!.getUserDeviceInfo([alice.userId], true);
      const st = await b.getCrypto()!.getDeviceVerificationStatus(alice.userId, alice2.deviceId);
      return st?.signedByOwner ? st : undefined;
    });
    expect(seen.signedByOwner).to.equal(true);
    // And Alice's first device as hers too (bootstrap signed it).
    const first = await b.getCrypto()!.getDeviceVerificationStatus(alice.userId, alice.deviceId);
    expect(first?.signedByOwner).to.equal(true);
  });
});
