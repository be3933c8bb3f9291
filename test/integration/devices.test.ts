/** spec: Client-Server API §10 "Device Management" — including the remote wipe of a lost phone. */
import { expect } from 'chai';
import { sdkClient } from '../sdk.js';
import { expectMatrixError, login, passwordAuth, rejectionOf, useServer } from './helpers/index.js';

describe('devices', () => {
  const s = useServer();
  const password = 'device-owner-password';
  const WHOAMI = '/_matrix/client/v3/account/whoami';
  let owner: { userId: string; accessToken: string; deviceId: string };
  before(async () => {
    owner = await s.t.registerUser('yusuf', { password });
  });

  it('lists, gets and renames devices (matrix-js-sdk)', async () => {
    const phone = await login(s.t, 'yusuf', password, { device_id: 'PHONE1', initial_device_display_name: 'Phone' });
    const client = sdkClient(s.t.baseUrl, owner);
    const { devices } = await client.getDevices();
    const ids = devices.map((d) => d.device_id);
    expect(ids).to.include.members([owner.deviceId, 'PHONE1']);
    const listed = devices.find((d) => d.device_id === 'PHONE1')!;
    expect(listed.display_name).to.equal('Phone');
    const one = await client.getDevice('PHONE1');
    expect(one.device_id).to.equal('PHONE1');
    expect(one.display_name).to.equal('Phone');
    await client.setDeviceDetails('PHONE1', { display_name: 'Lost phone' });
    expect((await client.getDevice('PHONE1')).display_name).to.equal('Lost phone');
    // renaming does not log the device out
    expect((await s.t.request('GET', WHOAMI, { token: phone.access_token })).status).to.equal(200);
  });

  it('answers 404 M_NOT_FOUND for an unknown device, and for another user\'s device', async () => {
    const other = await s.t.registerUser('zoe');
    for (const id of ['NOSUCHDEVICE', other.deviceId]) {
      const path = `/_matrix/client/v3/devices/${id}`;
      expectMatrixError(await s.t.request('GET', path, { token: owner.accessToken }), 404, 'M_NOT_FOUND');
      expectMatrixError(await s.t.request('PUT', path, { token: owner.accessToken, body: { display_name: 'x' } }), 404, 'M_NOT_FOUND');
      expectMatrixError(await s.t.request('DELETE', path, { token: owner.accessToken, body: { auth: passwordAuth(owner.userId, password) } }), 404, 'M_NOT_FOUND');
    }
    // zoe's device is untouched
    expect((await s.t.request('GET', WHOAMI, { token: other.accessToken })).status).to.equal(200);
  });

  it('refuses a display name of the wrong type', async () => {
    const res = await s.t.request('PUT', `/_matrix/client/v3/devices/${owner.deviceId}`, { token: owner.accessToken, body: { display_name: 42 } });
    expectMatrixError(res, 400, 'M_BAD_JSON');
    expect(res.body.error).to.include('display_name');
  });

  it('DELETE /devices/{id} needs UIA; then the device token fails at once (remote wipe)', async () => {
    const lost = await login(s.t, 'yusuf', password, { device_id: 'LOSTPHONE' });
    expect((await s.t.request('GET', WHOAMI, { token: lost.access_token })).status).to.equal(200);
    const client = sdkClient(s.t.baseUrl, owner);
    const challenge = await rejectionOf(client.deleteDevice('LOSTPHONE'));
    expect(challenge.httpStatus).to.equal(401);
    expect(challenge.data.flows).to.deep.equal([{ stages: ['m.login.password'] }]);
    // not yet deleted
    expect((await s.t.request('GET', WHOAMI, { token: lost.access_token })).status).to.equal(200);
    const wrong = await s.t.request('DELETE', '/_matrix/client/v3/devices/LOSTPHONE', {
      token: owner.accessToken,
      body: { auth: passwordAuth(owner.userId, 'bad', challenge.data.session) },
    });
    expect(wrong.status).to.equal(401);
    expect((await s.t.request('GET', WHOAMI, { token: lost.access_token })).status).to.equal(200);
    await client.deleteDevice('LOSTPHONE', passwordAuth(owner.userId, password, challenge.data.session) as never);
    expectMatrixError(await s.t.request('GET', WHOAMI, { token: lost.access_token }), 401, 'M_UNKNOWN_TOKEN');
    expectMatrixError(await s.t.request('GET', '/_matrix/client/v3/devices/LOSTPHONE', { token: owner.accessToken }), 404, 'M_NOT_FOUND');
    expect((await client.getDevices()).devices.map((d) => d.device_id)).to.not.include('LOSTPHONE');
  });

  it('POST /delete_devices needs UIA and deletes only the listed devices', async () => {
    const a = await login(s.t, 'yusuf', password, { device_id: 'TABLET' });
    const b = await login(s.t, 'yusuf', password, { device_id: 'DESKTOP' });
    const keep = await login(s.t, 'yusuf', password, { device_id: 'KEEPME' });
    const client = sdkClient(s.t.baseUrl, owner);
    const challenge = await rejectionOf(client.deleteMultipleDevices(['TABLET', 'DESKTOP']));
    expect(challenge.httpStatus).to.equal(401);
    expect((await s.t.request('GET', WHOAMI, { token: a.access_token })).status).to.equal(200);
    await client.deleteMultipleDevices(['TABLET', 'DESKTOP'], passwordAuth(owner.userId, password, challenge.data.session) as never);
    for (const token of [a.access_token, b.access_token]) {
      expectMatrixError(await s.t.request('GET', WHOAMI, { token }), 401, 'M_UNKNOWN_TOKEN');
    }
    expect((await s.t.request('GET', WHOAMI, { token: keep.access_token })).status).to.equal(200);
    const ids = (await client.getDevices()).devices.map((d) => d.device_id);
    expect(ids).to.include('KEEPME');
    expect(ids).to.not.include.members(['TABLET', 'DESKTOP']);
  });

  it('delete_devices refuses a body without a device list', async () => {
    const res = await s.t.request('POST', '/_matrix/client/v3/delete_devices', { token: owner.accessToken, body: { auth: passwordAuth(owner.userId, password) } });
    expectMatrixError(res, 400, 'M_BAD_JSON');
    expect(res.body.error).to.include('devices');
  });

  it('a device may delete itself', async () => {
    const self = await login(s.t, 'yusuf', password, { device_id: 'SELFDESTRUCT' });
    const res = await s.t.request('DELETE', '/_matrix/client/r0/devices/SELFDESTRUCT', {
      token: self.access_token,
      body: { auth: passwordAuth(owner.userId, password) },
    });
    expect(res.status).to.equal(200);
    expectMatrixError(await s.t.request('GET', WHOAMI, { token: self.access_token }), 401, 'M_UNKNOWN_TOKEN');
  });

  it('needs a token', async () => {
    expectMatrixError(await s.t.request('GET', '/_matrix/client/v3/devices'), 401, 'M_MISSING_TOKEN');
  });
});
