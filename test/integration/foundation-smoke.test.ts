import { expect } from 'chai';
import { startTestServer, type TestServer } from '../harness.js';
import { sdkClient } from '../sdk.js';

describe('foundation smoke', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(async () => t?.close());

  it('registers through the shared secret and answers whoami via matrix-js-sdk', async () => {
    const alice = await t.registerUser('alice');
    const client = sdkClient(t.baseUrl, alice);
    const who = await client.whoami();
    expect(who.user_id).to.equal('@alice:test.local');
    expect(who.device_id).to.equal(alice.deviceId);
  });
});
