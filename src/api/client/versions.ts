/** spec: Client-Server API §2.x "API Standards" — GET /versions and server discovery. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { notFound } from '../../errors.js';

/** Every spec version whose client-server API this server serves. */
export const SUPPORTED_VERSIONS = ['r0.0.1', 'r0.1.0', 'r0.2.0', 'r0.3.0', 'r0.4.0', 'r0.5.0', 'r0.6.0', 'r0.6.1',
  'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6', 'v1.7', 'v1.8', 'v1.9', 'v1.10', 'v1.11', 'v1.12'];

/** Unstable features advertised like Synapse does; each later module adds its flags. */
export const UNSTABLE_FEATURES: Record<string, boolean> = {
  'org.matrix.e2e_cross_signing': true,
  'org.matrix.msc2432': true,
  'org.matrix.msc3827.stable': true,
  // MSC4186 simplified sliding sync: matrix-rust-sdk (Element X) requires this flag.
  'org.matrix.simplified_msc3575': true,
  // MSC4133 extended profile fields, stable in v1.16 (ruma checks this flag).
  'uk.tcpip.msc4133.stable': true,
  // MSC2666 mutual rooms, stable in v1.19.
  'uk.half-shot.msc2666.query_mutual_rooms.stable': true,
};

export function registerVersionRoutes(r: ApiRouter, s: Services): void {
  r.add('GET', ['/_matrix/client/versions'], { auth: 'optional' }, () => ({
    versions: SUPPORTED_VERSIONS,
    // matrix-js-sdk checks org.matrix.msc4140 before every delayed-event call.
    unstable_features: { ...UNSTABLE_FEATURES, 'org.matrix.msc4140': s.delayedEvents.enabled },
  }));

  // spec: Client-Server API §2.x "Well-known URIs"
  r.add('GET', ['/.well-known/matrix/client'], {}, () => ({
    'm.homeserver': { base_url: s.config.publicBaseUrl.replace(/\/$/, '') },
    ...s.config.extraWellKnownClientContent,
  }));

  // spec: Server-Server API §2.1 "Server discovery" — served only when configured, as in Synapse.
  r.add('GET', ['/.well-known/matrix/server'], {}, () => {
    if (!s.config.serveServerWellKnown) throw notFound('.well-known not available');
    const url = new URL(s.config.publicBaseUrl);
    return { 'm.server': `${url.hostname}:${url.port || (url.protocol === 'https:' ? 443 : 80)}` };
  });
}
