/**
 * Accounts: registration, login by password, password change, deactivation.
 * spec: Client-Server API §4.4 "Login", §5.x "Account registration and management".
 */
import type { Storage } from '../storage/index.js';
import type { Config } from '../config/index.js';
import { MatrixError, forbidden } from '../errors.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { newDeviceId } from './tokens.js';
import type { AuthService, IssuedSession } from './auth.js';
import type { DeviceService } from './devices.js';
import { isValidLocalpart } from '../matrix/ids.js';

export interface RegisterOptions {
  localpart?: string;
  password?: string | null;
  deviceId?: string;
  initialDeviceDisplayName?: string;
  inhibitLogin?: boolean;
  refreshable?: boolean;
  isGuest?: boolean;
  isAdmin?: boolean;
  userType?: string | null;
  displayname?: string;
}

export interface LoginResult extends IssuedSession {
  user_id: string;
  device_id: string;
  home_server?: string;
  well_known?: Record<string, unknown>;
}

/** Synapse refuses passwords above this length; bcrypt would silently truncate. */
const MAX_PASSWORD_LENGTH = 512;
/** Synapse's limit on client-chosen device IDs (they are part of indexed keys). */
const MAX_DEVICE_ID_LENGTH = 512;

export class AccountService {
  constructor(
    private readonly storage: Storage,
    private readonly config: Config,
    private readonly auth: AuthService,
    private readonly devices: DeviceService,
    private readonly now: () => number = Date.now,
  ) {}

  private dummy?: Promise<string>;

  /** A real hash to verify against when the user does not exist, so both cases cost the same. */
  private dummyHash(): Promise<string> {
    return (this.dummy ??= hashPassword(newDeviceId()));
  }

  userIdFor(localpart: string): string {
    return `@${localpart}:${this.config.serverName}`;
  }

  isLocalUser(userId: string): boolean {
    return userId.endsWith(`:${this.config.serverName}`) && userId.startsWith('@');
  }

  /** spec: GET /register/available */
  async checkUsernameAvailable(localpart: string): Promise<void> {
    this.validateLocalpart(localpart);
    if ((await this.storage.users.findCaseInsensitive(this.userIdFor(localpart))).length) {
      throw new MatrixError(400, 'M_USER_IN_USE', 'User ID already taken.');
    }
  }

  validateLocalpart(localpart: string): void {
    if (!isValidLocalpart(localpart)) {
      throw new MatrixError(400, 'M_INVALID_USERNAME', 'User ID may only contain the characters a-z, 0-9, ., _, =, -, / and +');
    }
    if (new TextEncoder().encode(this.userIdFor(localpart)).length > 255) {
      throw new MatrixError(400, 'M_INVALID_USERNAME', 'User ID may not be longer than 255 bytes');
    }
    // Synapse reserves purely numeric localparts for guests.
    if (/^[0-9]+$/.test(localpart)) throw new MatrixError(400, 'M_INVALID_USERNAME', 'Numeric user IDs are reserved for guest users.');
  }

  validatePassword(password: unknown): asserts password is string {
    if (typeof password !== 'string' || password.length === 0) throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing password');
    if (password.length > MAX_PASSWORD_LENGTH) throw new MatrixError(400, 'M_BAD_JSON', 'Password too long');
  }

  checkDeviceId(deviceId: string | undefined): void {
    // An empty ID would make a device that tests of `requester.deviceId` take for none: logout
    // would leave it behind and whoami would not name it.
    if (deviceId === '') throw new MatrixError(400, 'M_INVALID_PARAM', 'device_id may not be empty');
    if (deviceId !== undefined && deviceId.length > MAX_DEVICE_ID_LENGTH) {
      throw new MatrixError(400, 'M_INVALID_PARAM', `device_id cannot be longer than ${MAX_DEVICE_ID_LENGTH} characters.`);
    }
  }

  /** Creates a user and, unless inhibited, a device and session. */
  async register(opts: RegisterOptions): Promise<{ user_id: string; device_id?: string } & Partial<IssuedSession>> {
    this.checkDeviceId(opts.deviceId);
    let localpart = opts.localpart;
    if (opts.isGuest) {
      localpart = undefined;
    } else if (localpart === undefined) {
      localpart = newDeviceId().toLowerCase();
    } else {
      localpart = localpart.toLowerCase();
      this.validateLocalpart(localpart);
    }
    const passwordHash = opts.password ? await hashPassword(opts.password) : null;
    return this.storage.db.transaction(async (tx) => {
      // Guests are numbered inside the transaction, so guests arriving together get distinct numbers.
      if (localpart === undefined) localpart = await this.storage.users.nextGuestLocalpart(tx);
      const userId = this.userIdFor(localpart);
      const created = await this.storage.users.create(tx, {
        userId,
        passwordHash,
        createdTs: this.now(),
        isAdmin: opts.isAdmin,
        isGuest: opts.isGuest,
        userType: opts.userType,
        // Synapse sets the display name to the localpart at registration; clients expect it.
        displayname: opts.displayname ?? localpart,
      });
      if (!created) throw new MatrixError(400, 'M_USER_IN_USE', 'User ID already taken.');
      if (opts.inhibitLogin) return { user_id: userId };
      const deviceId = opts.deviceId ?? newDeviceId();
      await this.devices.ensureDevice(tx, userId, deviceId, opts.initialDeviceDisplayName ?? null);
      const session = await this.auth.issueSession(tx, userId, deviceId, { refreshable: opts.refreshable });
      return { user_id: userId, device_id: deviceId, ...session };
    });
  }

  /** Checks a password login; returns the canonical user ID. Constant work whether or not the user exists. */
  async checkPassword(userId: string, password: string): Promise<string> {
    const candidates = await this.storage.users.findCaseInsensitive(userId);
    // An exact match wins; otherwise a unique case-insensitive one (Synapse's behaviour).
    const user = candidates.find((u) => u.userId === userId) ?? (candidates.length === 1 ? candidates[0] : undefined);
    const ok = await verifyPassword(password, user?.passwordHash ?? (await this.dummyHash()));
    if (!user || !ok) throw forbidden('Invalid username or password');
    if (user.deactivated) throw new MatrixError(403, 'M_USER_DEACTIVATED', 'This account has been deactivated');
    if (user.locked) throw new MatrixError(401, 'M_USER_LOCKED', 'This account has been locked', { soft_logout: true });
    return user.userId;
  }

  /** Creates (or reuses) the device and issues a session; spec: POST /login. */
  async login(userId: string, opts: { deviceId?: string; initialDeviceDisplayName?: string; refreshable?: boolean }): Promise<LoginResult> {
    this.checkDeviceId(opts.deviceId);
    const deviceId = opts.deviceId ?? newDeviceId();
    return this.storage.db.transaction(async (tx) => {
      const created = await this.devices.ensureDevice(tx, userId, deviceId, opts.initialDeviceDisplayName ?? null);
      const session = await this.auth.issueSession(tx, userId, deviceId, { refreshable: opts.refreshable });
      return { created, result: { user_id: userId, device_id: deviceId, home_server: this.config.serverName, ...session } };
    }).then(({ created, result }) => {
      if (created) this.devices.announceChange(userId);
      return result;
    });
  }

  /**
   * spec: POST /account/password. Unless logout_devices is false, every other device is deleted
   * and every other access token revoked, the requesting device's other tokens included.
   */
  async changePassword(userId: string, newPassword: string, logoutDevices: boolean, keep: { deviceId: string | null; tokenId: number }): Promise<void> {
    this.validatePassword(newPassword);
    const hash = await hashPassword(newPassword);
    const deleted = await this.storage.db.transaction(async (tx) => {
      await this.storage.users.setPasswordHash(tx, userId, hash);
      if (!logoutDevices) return { deviceIds: [], tokenHashes: [] };
      const d = await this.devices.deleteDevicesInTx(tx, userId, null, keep.deviceId);
      await this.storage.devices.deleteAccessTokensForUser(tx, userId, keep.tokenId);
      return d;
    });
    this.devices.afterDeletion(userId, deleted);
    if (logoutDevices) this.auth.invalidateUserExcept(userId, keep.tokenId);
  }

  /** spec: POST /account/deactivate. The account can never be used again; its devices are gone. */
  async deactivate(userId: string): Promise<void> {
    const deleted = await this.storage.db.transaction(async (tx) => {
      await this.storage.users.setDeactivated(tx, userId, true);
      await this.storage.users.setPasswordHash(tx, userId, null);
      await this.storage.users.setProfileField(tx, userId, 'avatar_url', null);
      await this.storage.accountData.deleteForUser(tx, userId);
      return this.devices.deleteDevicesInTx(tx, userId, null, null);
    });
    this.devices.afterDeletion(userId, deleted);
    this.auth.invalidateUser(userId);
  }
}

