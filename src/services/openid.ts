/**
 * OpenID tokens (spec: Client-Server API §11.x "OpenID", Server-Server API "OpenID"): a user asks
 * for a token and hands it to a third party — the conference page, a widget — which asks this
 * server whose it is. The token proves identity only; it grants no access to the account.
 */
import type { OpenIdStore } from '../storage/openid.js';
import { forbidden } from '../errors.js';
import { MatrixError } from '../errors.js';
import { newToken, tokenHash } from './tokens.js';
import type { Requester } from './auth.js';

const LIFETIME_MS = 3600_000;

export class OpenIdService {
  constructor(
    private readonly store: OpenIdStore,
    private readonly serverName: string,
    private readonly now: () => number = Date.now,
  ) {}

  async requestToken(requester: Requester, userId: string): Promise<Record<string, unknown>> {
    if (requester.userId !== userId) throw forbidden('Cannot request OpenID tokens for other users');
    const token = newToken('voi');
    await this.store.insert(tokenHash(token), userId, this.now() + LIFETIME_MS, this.now());
    return { access_token: token, token_type: 'Bearer', matrix_server_name: this.serverName, expires_in: LIFETIME_MS / 1000 };
  }

  /** spec: GET /_matrix/federation/v1/openid/userinfo — 401 M_UNKNOWN_TOKEN for an unknown or expired token. */
  async userInfo(token: string | undefined): Promise<{ sub: string }> {
    const userId = token ? await this.store.userFor(tokenHash(token), this.now()) : undefined;
    if (!userId) throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Access token unknown or expired');
    return { sub: userId };
  }
}
