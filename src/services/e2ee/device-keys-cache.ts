/**
 * The serialised device keys of whole users, as /keys/query answers for "all devices" (ARCHITECTURE:
 * caches live in-process and are invalidated by the stream notices that wake /sync). Every change to
 * a user's devices, keys or signatures is a device_lists notice naming the user, on every process;
 * an entry read before such a notice is not stored (generation check). Display names can change
 * without a notice, so entries also expire.
 */
import type { Notifier } from '../../streams/notifier.js';

const MAX_ENTRIES = 20_000;

/** A user's keys as every requester sees them (requester-specific signatures are added on top). */
export interface CachedUserKeys {
  /** The devices object of /keys/query's device_keys[userId], as JSON text. */
  devices: string;
  /** The master key with its owner's signatures, as JSON text; its public key. */
  master: string | null;
  masterKey: string | null;
  selfSigning: string | null;
}
const TTL_MS = 60_000;

export class DeviceKeysCache {
  private readonly entries = new Map<string, { keys: CachedUserKeys; at: number }>();
  private readonly generations = new Map<string, number>();

  constructor(
    notifier: Notifier,
    private readonly now: () => number = Date.now,
  ) {
    notifier.subscribe((n) => {
      if (n.stream === 'device_lists') for (const u of n.userIds ?? []) this.invalidate(u);
    });
  }

  invalidate(userId: string): void {
    this.entries.delete(userId);
    // One number per user who ever changed: small, and never reset (a reset could let a stale read in).
    this.generations.set(userId, (this.generations.get(userId) ?? 0) + 1);
  }

  /** The generation to pass back to `set`, taken before reading the database. */
  generation(userId: string): number {
    return this.generations.get(userId) ?? 0;
  }

  get(userId: string): CachedUserKeys | undefined {
    const e = this.entries.get(userId);
    if (!e) return undefined;
    if (this.now() - e.at > TTL_MS) {
      this.entries.delete(userId);
      return undefined;
    }
    return e.keys;
  }

  /** Stores the user's keys unless the user changed since `generation`. */
  set(userId: string, keys: CachedUserKeys, generation: number): void {
    if ((this.generations.get(userId) ?? 0) !== generation) return;
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(userId, { keys, at: this.now() });
  }
}
