/**
 * MSC3814 with real crypto: matrix-js-sdk's DehydratedDeviceManager (Rust crypto) creates a
 * dehydrated device on Veche; Bob's message reaches it while Alice has only that device and an
 * offline one; Alice's new device rehydrates it and reads the message.
 */
import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';
import { sdk, quietLogger } from '../sdk.js';
import { waitFor } from './helpers/index.js';

type Client = ReturnType<typeof sdk.createClient>;


describe('e2ee: dehydrated devices with matrix-js-sdk Rust crypto', function () {
  this.timeout(120_000);
  let t: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const clients: Client[] = [];
  // The secret-storage key, as a user would keep their recovery key.
  let secretKey: Uint8Array | undefined;
  const cryptoCallbacks = {
    getSecretStorageKey: async ({ keys }: { keys: Record<string, unknown> }): Promise<[string, Uint8Array] | null> => {
      const id = Object.keys(keys)[0];
      return id && secretKey ? [id, secretKey] : null;
    },
  };

  async function start(user: TestUser, logger: any = quietLogger): Promise<Client> {
    const client = sdk.createClient({ baseUrl: t.baseUrl, userId: user.userId, accessToken: user.accessToken, deviceId: user.deviceId, logger, cryptoCallbacks: cryptoCallbacks as any });
    await client.initRustCrypto({ useIndexedDB: false });
    const ready = new Promise<void>((resolve) => {
      const onSync = (state: string) => {
        if (state === 'PREPARED' || state === 'SYNCING') {
          client.off(sdk.ClientEvent.Sync, onSync);
          resolve();
        }
      };
      client.on(sdk.ClientEvent.Sync, onSync);
    });
    await client.startClient({ initialSyncLimit: 20 });
    await ready;
    clients.push(client);
    return client;
  }

  before(async () => {
    t = await startTestServer();
    alice = await t.registerUser();
    bob = await t.registerUser();
  });
  after(async () => {
    for (const c of clients) c.stopClient();
    await t?.close();
  });

  it('dehydrates, receives while away, rehydrates on a new device', async () => {
    const a1 = await start(alice);
    const crypto = a1.getCrypto()!;
    await crypto.bootstrapCrossSigning({
      authUploadDeviceSigningKeys: async (makeRequest) => {
        await makeRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.userId }, password: alice.password } as any);
      },
    });
    const recovery = await crypto.createRecoveryKeyFromPassphrase();
    secretKey = recovery.privateKey;
    await crypto.bootstrapSecretStorage({ createSecretStorageKey: async () => recovery, setupNewSecretStorage: true });
    expect(await crypto.isDehydrationSupported()).to.equal(true);
    await crypto.startDehydration({ createNewKey: true });
    const dehydrated = await t.request('GET', '/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device', { token: alice.accessToken });
    expect(dehydrated.status).to.equal(200);
    const dehydratedId: string = dehydrated.body.device_id;

    const { room_id: roomId } = await a1.createRoom({
      invite: [bob.userId],
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    } as any);
    const b = await start(bob);
    await waitFor('Bob to see the invite', () => b.getRoom(roomId)?.getMyMembership() === 'invite');
    await b.joinRoom(roomId);
    await waitFor('Bob to be in the encrypted room', () => b.getRoom(roomId)?.getMyMembership() === 'join' && b.getRoom(roomId)?.hasEncryptionStateEvent());
    a1.stopClient();

    // Bob knows Alice's dehydrated device and encrypts to it.
    await waitFor("Bob to know Alice's dehydrated device", async () => (await b.getCrypto()!.getUserDeviceInfo([alice.userId], true)).get(alice.userId)?.has(dehydratedId));
    await b.sendTextMessage(roomId, 'while you were away');

    const login = await t.request('POST', '/_matrix/client/v3/login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.userId }, password: alice.password },
    });
    const a3 = await start({ ...alice, accessToken: login.body.access_token, deviceId: login.body.device_id }, quietLogger);
    let rehydrated = false;
    a3.on('dehydration.RehydrationCompleted' as any, () => (rehydrated = true));
    // The new device takes the cross-signing keys from secret storage (as Element does after the recovery key).
    // It needs Alice's public identity first (its own /keys/query), so it may take a retry.
    await waitFor('the new device to import the cross-signing keys', async () => {
      await a3.getCrypto()!.getUserDeviceInfo([alice.userId], true);
      await a3.getCrypto()!.bootstrapCrossSigning({});
      return true;
    });
    expect(await a3.getCrypto()!.isCrossSigningReady()).to.equal(true);
    await a3.getCrypto()!.startDehydration({ rehydrate: true });
    const text = await waitFor('the new device to read the message', async () => {
      const room = a3.getRoom(roomId);
      if (!room) return undefined;
      for (const e of room.getLiveTimeline().getEvents()) if (e.isEncrypted()) await a3.decryptEventIfNeeded(e);
      return room.getLiveTimeline().getEvents().find((e) => e.getContent().body === 'while you were away')?.getContent().body;
    });
    expect(text).to.equal('while you were away');
    expect(rehydrated).to.equal(true);
    // A fresh dehydrated device replaced the one just used.
    const now = await t.request('GET', '/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device', { token: alice.accessToken });
    expect(now.body.device_id).to.not.equal(dehydratedId);
  });
});
