/**
 * Sync tokens: opaque to clients, one position per stream (ARCHITECTURE: "Sync tokens are opaque
 * to clients and encode one position per stream"). Form: "s<events>_<account_data>_<receipts>_
 * <typing>_<presence>_<to_device>_<device_lists>". The first number alone ("s<events>") is also the
 * prev_batch form /messages accepts.
 */
import { MatrixError } from '../errors.js';

export const SYNC_STREAMS = ['events', 'account_data', 'receipts', 'typing', 'presence', 'to_device', 'device_lists'] as const;
export type SyncStream = (typeof SYNC_STREAMS)[number];
export type SyncPositions = Record<SyncStream, number>;

export function zeroPositions(): SyncPositions {
  return { events: 0, account_data: 0, receipts: 0, typing: 0, presence: 0, to_device: 0, device_lists: 0 };
}

export function formatSyncToken(p: SyncPositions): string {
  return 's' + SYNC_STREAMS.map((s) => p[s]).join('_');
}

/** Parses a since token; 400 M_INVALID_PARAM for anything that is not one of ours. */
export function parseSyncToken(token: string): SyncPositions {
  const m = /^s(\d+(?:_\d+)*)$/.exec(token);
  if (!m) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid since token: ${token.slice(0, 64)}`);
  const parts = m[1]!.split('_').map(Number);
  if (parts.length > SYNC_STREAMS.length || parts.some((n) => !Number.isSafeInteger(n))) {
    throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid since token: ${token.slice(0, 64)}`);
  }
  const out = zeroPositions();
  SYNC_STREAMS.forEach((s, i) => (out[s] = parts[i] ?? 0));
  return out;
}
