/**
 * Profiles (spec: Client-Server API §10.x "Profiles"). Changes reach room member events once rooms
 * exist (the rooms service listens through onChange).
 */
import type { Storage } from '../storage/index.js';
import { MatrixError, forbidden, notFound } from '../errors.js';
import type { Requester } from './auth.js';

export type ProfileField = 'displayname' | 'avatar_url';

/** Synapse's limits; longer values are refused with M_TOO_LARGE... as 400 M_BAD_JSON there. */
export const MAX_PROFILE_FIELD_LENGTH: Record<ProfileField, number> = { displayname: 256, avatar_url: 1000 };

/** Defined m.* profile fields clients may set besides displayname and avatar_url. */
const KNOWN_M_FIELDS = new Set(['m.tz']);
const MAX_PROFILE_BYTES = 64 * 1024;

export type ProfileChangeListener = (userId: string, field: ProfileField, value: string | null) => Promise<void>;

export class ProfileService {
  private readonly listeners: ProfileChangeListener[] = [];

  constructor(private readonly storage: Storage) {}

  onChange(listener: ProfileChangeListener): void {
    this.listeners.push(listener);
  }

  async getProfile(userId: string): Promise<{ displayname?: string; avatar_url?: string; [key: string]: unknown }> {
    const user = await this.storage.users.get(userId);
    const profile = user && !user.deactivated ? await this.storage.users.getProfile(userId) : undefined;
    if (!profile) throw notFound('Profile was not found');
    const fields = (await this.storage.users.getProfileFields(userId)) ?? {};
    const out: { displayname?: string; avatar_url?: string; [key: string]: unknown } = { ...fields };
    if (profile.displayname !== null) out.displayname = profile.displayname;
    if (profile.avatar_url !== null) out.avatar_url = profile.avatar_url;
    return out;
  }

  async setField(requester: Requester, userId: string, field: ProfileField, value: unknown): Promise<void> {
    if (requester.userId !== userId && !requester.isAdmin) throw forbidden("Cannot set another user's profile");
    if (value !== null && typeof value !== 'string') throw new MatrixError(400, 'M_BAD_JSON', `${field} must be a string`);
    if (typeof value === 'string' && value.length > MAX_PROFILE_FIELD_LENGTH[field]) {
      throw new MatrixError(400, 'M_BAD_JSON', `${field} is too long (max ${MAX_PROFILE_FIELD_LENGTH[field]})`);
    }
    if (field === 'avatar_url' && typeof value === 'string' && value !== '' && !value.startsWith('mxc://')) {
      throw new MatrixError(400, 'M_BAD_JSON', 'avatar_url must be an mxc:// URI');
    }
    const user = await this.storage.users.get(userId);
    if (!user || user.deactivated) throw notFound('User not found');
    const stored = value === '' ? null : (value as string | null);
    await this.storage.db.transaction((tx) => this.storage.users.setProfileField(tx, userId, field, stored));
    for (const l of this.listeners) await l(userId, field, stored);
  }

  /**
   * spec: Client-Server API v1.16 "Profiles" — custom fields: keys up to 255 bytes, namespaced
   * (other m.* keys than the defined ones are reserved), the whole profile at most 64 KiB.
   */
  async setCustomField(requester: Requester, userId: string, key: string, value: unknown): Promise<void> {
    if (key === 'displayname' || key === 'avatar_url') return this.setField(requester, userId, key, value);
    if (requester.userId !== userId && !requester.isAdmin) throw forbidden("Cannot set another user's profile");
    if (!key || Buffer.byteLength(key) > 255) throw new MatrixError(400, 'M_KEY_TOO_LARGE', 'Profile keys are at most 255 bytes');
    if (key.startsWith('m.') && !KNOWN_M_FIELDS.has(key)) throw new MatrixError(400, 'M_BAD_JSON', `${key} is reserved by the specification`);
    if (key === 'm.tz' && value !== null && typeof value !== 'string') throw new MatrixError(400, 'M_BAD_JSON', 'm.tz must be a string');
    const user = await this.storage.users.get(userId);
    if (!user || user.deactivated) throw notFound('User not found');
    const ok = await this.storage.db.transaction((tx) => this.storage.users.setProfileCustomField(tx, userId, key, value, MAX_PROFILE_BYTES));
    if (!ok) throw new MatrixError(400, 'M_PROFILE_TOO_LARGE', `The profile may not exceed ${MAX_PROFILE_BYTES} bytes`);
  }
}
