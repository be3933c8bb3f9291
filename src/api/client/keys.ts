/** spec: Client-Server API §10.12.x "Key management API" and "Cross-signing": the /keys routes. */
import { HANDLED, type ApiRouter } from '../http/router.js';
import { serializeJson } from '../../services/e2ee/signed-json.js';
import type { Services } from '../../services/index.js';

/** Uploads carry at most 1000 one-time keys (checked by the service); this caps the bytes. */
const KEY_UPLOAD_BODY_LIMIT = 512 * 1024;
const QUERY_BODY_LIMIT = 4 * 1024 * 1024;

export function registerKeyRoutes(r: ApiRouter, s: Services): void {
  const e2ee = s.e2ee;

  r.client('POST', '/keys/upload', { auth: 'required', schema: 'uploadKeys', bodyLimit: KEY_UPLOAD_BODY_LIMIT }, ({ requester, body }) => e2ee.keys.upload(requester, body));
  // The deprecated form with the device in the path (r0); the token's device is the one that counts.
  r.client('POST', '/keys/upload/:deviceId', { auth: 'required', schema: 'uploadKeys', bodyLimit: KEY_UPLOAD_BODY_LIMIT }, ({ requester, body }) => e2ee.keys.upload(requester, body));

  r.client('POST', '/keys/query', { auth: 'required', schema: 'queryKeys', bodyLimit: QUERY_BODY_LIMIT }, async ({ requester, body, res }) => {
    const result = await e2ee.keys.query(requester, body);
    // Stored keys are spliced in as text: thousands of devices cost no parse and re-serialisation.
    res.status(200).type('application/json').send(serializeJson(result));
    return HANDLED;
  });

  r.client('POST', '/keys/claim', { auth: 'required', schema: 'claimKeys', bodyLimit: QUERY_BODY_LIMIT }, ({ body }) => e2ee.keys.claim(body));

  r.client('GET', '/keys/changes', { auth: 'required' }, ({ requester, query }) =>
    e2ee.keys.changes(requester.userId, query.from, query.to, () => s.sync.currentPositions()),
  );

  const deviceSigningPaths = ['/_matrix/client/v3/keys/device_signing/upload', '/_matrix/client/unstable/keys/device_signing/upload'];
  r.add('POST', deviceSigningPaths, { auth: 'required', schema: 'uploadCrossSigningKeys' }, async ({ req, requester, body }) => {
    // MSC3967: the first upload needs no user-interactive auth; replacing keys does.
    if (await e2ee.crossSigning.needsAuth(requester!.userId, body)) {
      await s.uia.authenticate({ uri: req.path.replace('/unstable/', '/v3/'), method: 'POST', body, userId: requester!.userId }, [['m.login.password']]);
    }
    const { auth: _auth, ...keys } = body;
    await e2ee.crossSigning.uploadSigningKeys(requester!.userId, keys);
    return {};
  });

  r.add(
    'POST',
    ['/_matrix/client/v3/keys/signatures/upload', '/_matrix/client/r0/keys/signatures/upload', '/_matrix/client/unstable/keys/signatures/upload'],
    { auth: 'required', schema: 'uploadCrossSigningSignatures', bodyLimit: QUERY_BODY_LIMIT },
    ({ requester, body }) => e2ee.crossSigning.uploadSignatures(requester!.userId, body),
  );
}
