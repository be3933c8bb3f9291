/**
 * Token-bucket rate limiting per key (Synapse's rc_* settings: per_second refill, burst_count size).
 * In-process: with several processes each enforces its own share, as Synapse's workers do.
 */
import type { RateLimit } from '../config/index.js';
import { limitExceeded } from '../errors.js';

interface Bucket {
  tokens: number;
  updated: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one action for key; throws 429 M_LIMIT_EXCEEDED with retry_after_ms when none is left. */
  take(key: string, cost = 1): void {
    const retry = this.tryTake(key, cost);
    if (retry > 0) throw limitExceeded(retry);
  }

  /** Throws 429 if an action would be refused now, without using one up. */
  check(key: string): void {
    const bucket = this.buckets.get(key);
    if (!bucket) return;
    const tokens = Math.min(this.limit.burstCount, bucket.tokens + ((this.now() - bucket.updated) / 1000) * this.limit.perSecond);
    if (tokens < 1) {
      throw limitExceeded(this.limit.perSecond > 0 ? Math.ceil(((1 - tokens) / this.limit.perSecond) * 1000) : 60_000);
    }
  }

  /** Returns 0 when allowed, else the milliseconds until one action is allowed. */
  tryTake(key: string, cost = 1): number {
    if (this.limit.perSecond <= 0 && this.limit.burstCount <= 0) return 0;
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.limit.burstCount, updated: now };
    bucket.tokens = Math.min(this.limit.burstCount, bucket.tokens + ((now - bucket.updated) / 1000) * this.limit.perSecond);
    bucket.updated = now;
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      this.buckets.set(key, bucket);
      this.prune(now);
      return 0;
    }
    this.buckets.set(key, bucket);
    if (this.limit.perSecond <= 0) return 60_000;
    return Math.ceil(((cost - bucket.tokens) / this.limit.perSecond) * 1000);
  }

  private lastPrune = 0;

  /** Drops full buckets now and then so the map does not grow with every address ever seen. */
  private prune(now: number): void {
    if (now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.updated) / 1000) * this.limit.perSecond >= this.limit.burstCount) this.buckets.delete(key);
    }
  }
}
