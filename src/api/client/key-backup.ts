/** spec: Client-Server API §10.12.x "Server-side key backups": /room_keys/version and /room_keys/keys. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import type { JsonObject } from '../../matrix/types.js';

const KEYS_BODY_LIMIT = 16 * 1024 * 1024;

export function registerKeyBackupRoutes(r: ApiRouter, s: Services): void {
  const backup = s.e2ee.backup;

  r.client('GET', '/room_keys/version', { auth: 'required' }, ({ requester }) => backup.getVersion(requester.userId));
  r.client('GET', '/room_keys/version/:version', { auth: 'required' }, ({ requester, params }) => backup.getVersion(requester.userId, params.version));
  r.client('POST', '/room_keys/version', { auth: 'required', schema: 'postRoomKeysVersion' }, ({ requester, body }) => backup.createVersion(requester.userId, body));
  r.client('PUT', '/room_keys/version/:version', { auth: 'required', schema: 'putRoomKeysVersion' }, ({ requester, params, body }) =>
    backup.updateVersion(requester.userId, params.version!, body),
  );
  // Synapse also deletes the current version when none is named.
  r.client('DELETE', '/room_keys/version', { auth: 'required' }, ({ requester }) => backup.deleteVersion(requester.userId));
  r.client('DELETE', '/room_keys/version/:version', { auth: 'required' }, ({ requester, params }) => backup.deleteVersion(requester.userId, params.version));

  r.client('GET', '/room_keys/keys', { auth: 'required' }, ({ requester, query }) => backup.getKeys(requester.userId, query.version));
  r.client('GET', '/room_keys/keys/:roomId', { auth: 'required' }, ({ requester, query, params }) => backup.getKeys(requester.userId, query.version, params.roomId));
  r.client('GET', '/room_keys/keys/:roomId/:sessionId', { auth: 'required' }, ({ requester, query, params }) =>
    backup.getKeys(requester.userId, query.version, params.roomId, params.sessionId),
  );

  r.client('PUT', '/room_keys/keys', { auth: 'required', schema: 'putRoomKeys', bodyLimit: KEYS_BODY_LIMIT }, ({ requester, query, body }) =>
    backup.putKeys(requester.userId, query.version, body.rooms as JsonObject),
  );
  r.client('PUT', '/room_keys/keys/:roomId', { auth: 'required', schema: 'putRoomKeysByRoomId', bodyLimit: KEYS_BODY_LIMIT }, ({ requester, query, params, body }) =>
    backup.putKeys(requester.userId, query.version, { [params.roomId!]: { sessions: body.sessions! } }),
  );
  r.client('PUT', '/room_keys/keys/:roomId/:sessionId', { auth: 'required', schema: 'putRoomKeyBySessionId' }, ({ requester, query, params, body }) =>
    backup.putKeys(requester.userId, query.version, { [params.roomId!]: { sessions: { [params.sessionId!]: body } } }),
  );

  r.client('DELETE', '/room_keys/keys', { auth: 'required' }, ({ requester, query }) => backup.deleteKeys(requester.userId, query.version));
  r.client('DELETE', '/room_keys/keys/:roomId', { auth: 'required' }, ({ requester, query, params }) => backup.deleteKeys(requester.userId, query.version, params.roomId));
  r.client('DELETE', '/room_keys/keys/:roomId/:sessionId', { auth: 'required' }, ({ requester, query, params }) =>
    backup.deleteKeys(requester.userId, query.version, params.roomId, params.sessionId),
  );
}
