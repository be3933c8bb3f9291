/**
 * Small client-server endpoints clients call at start-up or for account pages: VoIP TURN servers,
 * third-party protocols, mutual rooms (v1.19), admin whois, OpenID tokens, and clear refusals for
 * third-party identifiers (this server binds none: m.3pid_changes is off).
 */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { MatrixError, forbidden } from '../../errors.js';
import { isValidUserId } from '../../matrix/ids.js';

export function registerMiscRoutes(r: ApiRouter, s: Services): void {
  // spec: GET /voip/turnServer — with no TURN server configured Synapse answers {}; Element then
  // falls back to its own (or no) relay.
  r.client('GET', '/voip/turnServer', { auth: 'required', allowGuests: true }, () => ({}));

  // spec §11.x "Third-party networks": no application service bridges a network yet.
  r.client('GET', '/thirdparty/protocols', { auth: 'required' }, () => ({}));
  r.client('GET', '/thirdparty/protocol/:protocol', { auth: 'required' }, () => {
    throw new MatrixError(404, 'M_NOT_FOUND', 'Unknown protocol');
  });
  for (const path of ['/thirdparty/location', '/thirdparty/location/:protocol', '/thirdparty/user', '/thirdparty/user/:protocol']) {
    r.client('GET', path, { auth: 'required' }, () => []);
  }

  // spec v1.19: GET /_matrix/client/v1/mutual_rooms — rooms both users are joined to.
  r.add('GET', ['/_matrix/client/v1/mutual_rooms', '/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms'], { auth: 'required' }, async ({ requester, query }) => {
    const other = query.user_id;
    if (!other || !isValidUserId(other)) throw new MatrixError(400, 'M_INVALID_PARAM', 'user_id must be a valid user ID');
    // spec v1.19: the sender's own user ID and a `from` that is no next_batch of ours (this server
    // answers in one batch, so gives none out) are 400 M_INVALID_PARAM.
    if (other === requester!.userId) throw new MatrixError(400, 'M_INVALID_PARAM', 'You cannot request a list of shared rooms with yourself');
    if (query.from !== undefined) throw new MatrixError(400, 'M_INVALID_PARAM', 'Unknown or expired from token');
    const [mine, theirs] = await Promise.all([s.rooms.membership.joinedRooms(requester!.userId), s.rooms.membership.joinedRooms(other)]);
    const shared = new Set(theirs);
    const joined = mine.filter((roomId) => shared.has(roomId));
    return { joined, count: joined.length };
  });

  // spec: GET /admin/whois/{userId} — server admins, or users asking about themselves.
  r.client('GET', '/admin/whois/:userId', { auth: 'required' }, async ({ requester, params }) => {
    if (!requester.isAdmin && requester.userId !== params.userId) throw forbidden('You are not a server admin');
    // As Synapse: a parameter that is no user ID is a bad parameter, not a user without devices.
    if (!isValidUserId(params.userId!)) throw new MatrixError(400, 'M_INVALID_PARAM', 'userId must be a valid user ID');
    const devices = await s.storage.devices.list(params.userId!);
    const out: Record<string, unknown> = {};
    for (const d of devices) {
      out[d.deviceId] = {
        sessions: [{ connections: [{ ip: d.lastSeenIp ?? undefined, last_seen: d.lastSeenTs ?? undefined, user_agent: d.lastSeenUserAgent ?? undefined }] }],
      };
    }
    return { user_id: params.userId, devices: out };
  });

  r.client('POST', '/user/:userId/openid/request_token', { auth: 'required', schema: 'requestOpenIdToken' }, ({ requester, params }) =>
    s.openId.requestToken(requester, params.userId!),
  );
  r.add('GET', ['/_matrix/federation/v1/openid/userinfo'], {}, ({ query }) => s.openId.userInfo(query.access_token));

  for (const path of ['/account/3pid/email/requestToken', '/account/3pid/msisdn/requestToken', '/register/email/requestToken', '/register/msisdn/requestToken', '/account/password/email/requestToken', '/account/password/msisdn/requestToken']) {
    r.client('POST', path, {}, () => {
      throw new MatrixError(403, 'M_THREEPID_DENIED', 'Third-party identifiers are not supported by this server');
    });
  }
  for (const path of ['/account/3pid', '/account/3pid/add', '/account/3pid/bind', '/account/3pid/delete', '/account/3pid/unbind']) {
    r.client('POST', path, { auth: 'required' }, () => {
      throw new MatrixError(403, 'M_THREEPID_DENIED', 'Third-party identifiers are not supported by this server');
    });
  }
}
