/** Order statistics over samples (nearest-rank percentiles, as latency reports usually give). */

export function sorted(samples: readonly number[]): number[] {
  return [...samples].sort((a, b) => a - b);
}

/** Nearest-rank percentile, p in [0, 100]. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const s = sorted(samples);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))]!;
}

export function median(samples: readonly number[]): number {
  if (samples.length === 0) return NaN;
  const s = sorted(samples);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function min(samples: readonly number[]): number {
  return samples.length ? Math.min(...samples) : NaN;
}

export function max(samples: readonly number[]): number {
  return samples.length ? Math.max(...samples) : NaN;
}

export function mean(samples: readonly number[]): number {
  return samples.length ? samples.reduce((a, b) => a + b, 0) / samples.length : NaN;
}
