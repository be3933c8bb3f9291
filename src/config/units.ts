/** Synapse-style durations ("5m", "1h", or milliseconds) and sizes ("50M", or bytes). */

const durationUnits: Record<string, number> = {
  ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000,
};

export function parseDuration(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^([0-9]+)(ms|s|m|h|d|w|y)?$/.exec(value);
  if (!m) throw new Error(`not a duration: ${value}`);
  return Number(m[1]) * durationUnits[m[2] ?? 'ms']!;
}

const sizeUnits: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

export function parseSize(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^([0-9]+)([KMGT]?)$/.exec(value);
  if (!m) throw new Error(`not a size: ${value}`);
  return Number(m[1]) * sizeUnits[m[2]!]!;
}
