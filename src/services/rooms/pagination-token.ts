/**
 * Room pagination tokens (spec: Client-Server API §"Pagination", GET /rooms/{roomId}/messages).
 *
 * A token names a gap in a room's timeline:
 * - "t<topological>-<stream>": the gap just after the event at (topological, stream) in the
 *   room's (topological_ordering, stream_ordering) order — what /messages and /context hand out;
 * - "s<stream>": the gap after every event this server had received at that stream position —
 *   what /sync hands out as prev_batch. /sync's composite tokens ("s<events>_<more>_…") carry the
 *   events position first, so they are read as the same thing.
 * Tokens are opaque to clients: a malformed one is the client's error (400 M_INVALID_PARAM).
 */
import { invalidParam } from '../../errors.js';

export interface TopologicalToken {
  kind: 'topological';
  topo: number;
  stream: number;
}

export interface StreamToken {
  kind: 'stream';
  stream: number;
}

export type RoomToken = TopologicalToken | StreamToken;

const TOPOLOGICAL = /^t(\d{1,16})-(\d{1,16})(?:_\d{1,16})*$/;
const STREAM = /^s(\d{1,16})(?:_\d{1,16})*$/;

function safe(digits: string, token: string): number {
  const n = Number(digits);
  if (!Number.isSafeInteger(n)) throw invalidParam(`Invalid pagination token: ${token}`);
  return n;
}

/** Reads a pagination token; `name` is the query parameter it came from (for the error). */
export function parseRoomToken(token: string, name = 'token'): RoomToken {
  let m = TOPOLOGICAL.exec(token);
  if (m) return { kind: 'topological', topo: safe(m[1]!, token), stream: safe(m[2]!, token) };
  m = STREAM.exec(token);
  if (m) return { kind: 'stream', stream: safe(m[1]!, token) };
  throw invalidParam(`Invalid pagination token in '${name}': ${JSON.stringify(token.slice(0, 100))}`);
}

export function formatTopologicalToken(topo: number, stream: number): string {
  return `t${topo}-${stream}`;
}

export function formatStreamToken(stream: number): string {
  return `s${stream}`;
}

/** A position in (topological, stream) order. */
export interface TimelinePosition {
  topo: number;
  stream: number;
}

/** The token for the gap just before an event at `p` (what a backwards page ends with). */
export function tokenBefore(p: TimelinePosition): string {
  return formatTopologicalToken(p.topo, p.stream - 1);
}

/** The token for the gap just after an event at `p` (what a forwards page ends with). */
export function tokenAfter(p: TimelinePosition): string {
  return formatTopologicalToken(p.topo, p.stream);
}

export function comparePositions(a: TimelinePosition, b: TimelinePosition): number {
  return a.topo !== b.topo ? a.topo - b.topo : a.stream - b.stream;
}
