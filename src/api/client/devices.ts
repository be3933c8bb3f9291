/** spec: Client-Server API §10.x "Device Management". */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { MatrixError } from '../../errors.js';

export function registerDeviceRoutes(r: ApiRouter, s: Services): void {
  r.client('GET', '/devices', { auth: 'required' }, async ({ requester }) => ({ devices: await s.devices.list(requester.userId) }));

  r.client('GET', '/devices/:deviceId', { auth: 'required' }, ({ requester, params }) => s.devices.get(requester.userId, params.deviceId!));

  r.client('PUT', '/devices/:deviceId', { auth: 'required', schema: 'updateDevice' }, async ({ requester, params, body }) => {
    const name = body.display_name;
    if (name !== undefined && name !== null && typeof name !== 'string') throw new MatrixError(400, 'M_BAD_JSON', 'display_name must be a string');
    if (typeof name === 'string' && name.length > 100) throw new MatrixError(400, 'M_BAD_JSON', 'display_name is too long (max 100)');
    if (name !== undefined) await s.devices.setDisplayName(requester.userId, params.deviceId!, name as string | null);
    else await s.devices.get(requester.userId, params.deviceId!);
    return {};
  });

  r.client('DELETE', '/devices/:deviceId', { auth: 'required' }, async ({ req, requester, params, body }) => {
    await s.devices.get(requester.userId, params.deviceId!);
    await s.uia.authenticate(
      { uri: req.path.replace('/r0/', '/v3/'), method: 'DELETE', body, userId: requester.userId },
      [['m.login.password']],
    );
    await s.devices.deleteDevices(requester.userId, [params.deviceId!]);
    return {};
  });

  r.client('POST', '/delete_devices', { auth: 'required', schema: 'deleteDevices' }, async ({ req, requester, body }) => {
    await s.uia.authenticate(
      { uri: req.path.replace('/r0/', '/v3/'), method: 'POST', body, userId: requester.userId },
      [['m.login.password']],
    );
    await s.devices.deleteDevices(requester.userId, body.devices as string[]);
    return {};
  });
}
