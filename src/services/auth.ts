/**
 * Access and refresh tokens: issuing sessions, authenticating requests (with an in-process cache
 * that deletions invalidate at once), refresh, logout.
 * spec: Client-Server API §4.4 "Login", §4.4.x "Refreshing access tokens", §4.4.x "Logout".
 */
import type { Storage } from '../storage/index.js';
import type { Queryable } from '../storage/database.js';
import type { Config } from '../config/index.js';
import { MatrixError } from '../errors.js';
import { newToken, tokenHash } from './tokens.js';

export interface Requester {
  userId: string;
  deviceId: string | null;
  tokenId: number;
  isGuest: boolean;
  isAdmin: boolean;
  shadowBanned: boolean;
  suspended: boolean;
  /** The token's hash, so logout can drop it from the cache. */
  tokenHash: Buffer;
}

export interface IssuedSession {
  access_token: string;
  refresh_token?: string;
  expires_in_ms?: number;
}

interface CacheEntry {
  requester: Requester;
  validUntilMs: number | null;
  refreshTokenId: number | null;
  /** Predecessor refresh tokens are retired on the first use of a refreshed session. */
  retired: boolean;
}

const CACHE_MAX = 50_000;

export class AuthService {
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly storage: Storage,
    private readonly config: Config,
    private readonly now: () => number = Date.now,
  ) {}

  /** Resolves a token to its user and device; 401 M_UNKNOWN_TOKEN otherwise. */
  async authenticate(token: string): Promise<Requester> {
    const hash = tokenHash(token);
    const key = hash.toString('base64');
    let entry = this.cache.get(key);
    if (!entry) {
      const row = await this.storage.devices.findAccessToken(hash);
      if (!row || row.deactivated) throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Unrecognised access token', { soft_logout: false });
      if (row.locked) throw new MatrixError(401, 'M_USER_LOCKED', 'This account has been locked', { soft_logout: true });
      entry = {
        requester: {
          userId: row.puppetsUserId ?? row.userId,
          deviceId: row.deviceId,
          tokenId: row.id,
          isGuest: row.isGuest,
          isAdmin: row.isAdmin && !row.puppetsUserId,
          shadowBanned: row.shadowBanned,
          suspended: row.suspended,
          tokenHash: hash,
        },
        validUntilMs: row.validUntilMs,
        refreshTokenId: row.refreshTokenId,
        retired: row.refreshTokenId === null,
      };
      if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, entry);
    }
    if (entry.validUntilMs !== null && entry.validUntilMs <= this.now()) {
      // spec: an expired token of a refreshable session is a soft logout: refresh, don't re-login.
      throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Access token has expired', { soft_logout: true });
    }
    if (!entry.retired && entry.refreshTokenId !== null) {
      entry.retired = true;
      const retired = await this.storage.db.transaction((tx) => this.storage.devices.retirePredecessors(tx, entry!.refreshTokenId!));
      // The predecessor's access tokens may sit in the cache; they must fail from now on.
      this.invalidate(retired);
    }
    return entry.requester;
  }

  /** Creates an access token (and a refresh token when asked) for a device inside tx. */
  async issueSession(
    tx: Queryable,
    userId: string,
    deviceId: string,
    options: { refreshable?: boolean; puppetsUserId?: string; validUntilMs?: number } = {},
  ): Promise<IssuedSession> {
    return (await this.createSession(tx, userId, deviceId, options)).session;
  }

  private async createSession(
    tx: Queryable,
    userId: string,
    deviceId: string,
    options: { refreshable?: boolean; puppetsUserId?: string; validUntilMs?: number },
  ): Promise<{ session: IssuedSession; refreshTokenId: number | null }> {
    const now = this.now();
    const accessToken = newToken('vat');
    let refreshToken: string | undefined;
    let refreshTokenId: number | null = null;
    let validUntilMs = options.validUntilMs ?? (this.config.sessionLifetime ? now + this.config.sessionLifetime : null);
    if (options.refreshable) {
      refreshToken = newToken('vrt');
      refreshTokenId = await this.storage.devices.insertRefreshToken(tx, {
        tokenHash: tokenHash(refreshToken),
        userId,
        deviceId,
        expiryTs: this.config.refreshTokenLifetime ? now + this.config.refreshTokenLifetime : null,
        ultimateSessionExpiryTs: this.config.sessionLifetime ? now + this.config.sessionLifetime : null,
      });
      validUntilMs = now + this.config.refreshableAccessTokenLifetime;
    }
    await this.storage.devices.insertAccessToken(tx, {
      tokenHash: tokenHash(accessToken),
      userId,
      deviceId,
      now,
      validUntilMs,
      refreshTokenId,
      puppetsUserId: options.puppetsUserId ?? null,
    });
    const session: IssuedSession = { access_token: accessToken };
    if (refreshToken) {
      session.refresh_token = refreshToken;
      session.expires_in_ms = this.config.refreshableAccessTokenLifetime;
    }
    return { session, refreshTokenId };
  }

  /** spec: POST /refresh — exchanges a refresh token for a new access/refresh pair. */
  async refresh(refreshToken: string): Promise<IssuedSession> {
    return this.storage.db.transaction(async (tx) => {
      const row = await this.storage.devices.findRefreshToken(tx, tokenHash(refreshToken));
      const now = this.now();
      if (!row || (row.expiryTs !== null && row.expiryTs <= now) || (row.ultimateSessionExpiryTs !== null && row.ultimateSessionExpiryTs <= now)) {
        throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Unknown or expired refresh token', { soft_logout: false });
      }
      const { session, refreshTokenId } = await this.createSession(tx, row.userId, row.deviceId, { refreshable: true });
      await this.storage.devices.setNextRefreshToken(tx, row.id, refreshTokenId!);
      return session;
    });
  }

  /** Forgets cached tokens, e.g. after their device was deleted. */
  invalidate(hashes: Buffer[]): void {
    for (const h of hashes) this.cache.delete(h.toString('base64'));
  }

  /** Forgets a user's cached tokens except one (a password change keeps the requester's). */
  invalidateUserExcept(userId: string, keepTokenId: number): void {
    for (const [key, entry] of this.cache) if (entry.requester.userId === userId && entry.requester.tokenId !== keepTokenId) this.cache.delete(key);
  }

  /** Forgets every cached token of a user (deactivation, password change with logout). */
  invalidateUser(userId: string): void {
    for (const [key, entry] of this.cache) if (entry.requester.userId === userId) this.cache.delete(key);
  }
}

/**
 * spec: Client-Server API "Account suspension" (v1.13): a suspended account may leave rooms and
 * redact its own events, and nothing else that writes to rooms: 403 M_USER_SUSPENDED (as Synapse).
 */
export function refuseIfSuspended(requester: Requester, action: string): void {
  if (requester.suspended) throw new MatrixError(403, 'M_USER_SUSPENDED', `Cannot ${action} while the account is suspended`);
}
