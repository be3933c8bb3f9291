/**
 * Identifier grammar. spec: Appendices §"Identifier Grammar" (server names, user IDs incl.
 * historical ones, room IDs, room aliases, event IDs).
 */
import type { RoomVersion } from './room-versions.js';

/** spec: Appendices §"User Identifiers", §"Room IDs", §"Room Aliases", §"Event IDs". */
export const MAX_ID_BYTES = 255;

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Localparts of historical user IDs, room IDs and aliases: any non-surrogate code point but `:` and NUL. */
function isOpaqueLocalpart(s: string): boolean {
  return !s.includes(':') && !s.includes('\u0000') && !LONE_SURROGATE.test(s);
}

function isIPv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^[0-9]{1,3}$/.test(p) && Number(p) <= 255);
}

/** spec: Appendices §"Server Name": IPv6 literals as RFC 3513 §2.2 (hex groups, one `::`, optional trailing IPv4). */
function isIPv6(s: string): boolean {
  if (s.length < 2 || s.length > 45) return false;
  let addr = s;
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    // An embedded IPv4 address stands for the last two 16-bit groups.
    if (lastColon < 0 || !isIPv4(tail)) return false;
    addr = s.slice(0, lastColon + 1) + '0:0';
  }
  const halves = addr.split('::');
  if (halves.length > 2) return false;
  const groups = (h: string): number | null => {
    if (h === '') return 0;
    const g = h.split(':');
    return g.every((x) => /^[0-9A-Fa-f]{1,4}$/.test(x)) ? g.length : null;
  };
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : 0;
  if (left === null || right === null) return false;
  // `::` stands for at least one group of zeros.
  return halves.length === 2 ? left + right <= 7 : left === 8;
}

function isDnsName(s: string): boolean {
  if (s.length < 1 || s.length > 255) return false;
  const labels = s.split('.');
  if (!labels.every((l) => /^[A-Za-z0-9-]+$/.test(l))) return false;
  // All-numeric dotted quads are IPv4 literals, which must be in range.
  if (labels.length === 4 && labels.every((l) => /^[0-9]+$/.test(l))) return isIPv4(s);
  return true;
}

/**
 * spec: Appendices §"Server Name": `hostname [ ":" port ]` where hostname is an IPv4 literal,
 * a bracketed IPv6 literal, or a DNS name.
 */
export function isValidServerName(s: string): boolean {
  if (typeof s !== 'string' || s.length === 0) return false;
  let host = s;
  let port: string | undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) return false;
    host = s.slice(0, close + 1);
    const rest = s.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return false;
      port = rest.slice(1);
    }
    if (!isIPv6(host.slice(1, -1))) return false;
  } else {
    const colon = s.indexOf(':');
    if (colon >= 0) {
      host = s.slice(0, colon);
      port = s.slice(colon + 1);
    }
    if (!isDnsName(host)) return false;
  }
  return port === undefined || /^[0-9]{1,5}$/.test(port);
}

/** Splits `<sigil>localpart:server` at the first colon (localparts cannot contain one). */
function splitId(s: string, sigil: string): { localpart: string; serverName: string } | null {
  if (typeof s !== 'string' || !s.startsWith(sigil)) return null;
  const colon = s.indexOf(':');
  if (colon < 0) return null;
  return { localpart: s.slice(1, colon), serverName: s.slice(colon + 1) };
}

/**
 * Parses any user ID a server must accept, including historical ones (any non-surrogate code
 * point but `:` and NUL, possibly empty). spec: Appendices §"Historical User IDs".
 */
export function parseUserId(s: string): { localpart: string; serverName: string } | null {
  const parts = splitId(s, '@');
  if (parts === null || byteLength(s) > MAX_ID_BYTES) return null;
  if (!isOpaqueLocalpart(parts.localpart) || !isValidServerName(parts.serverName)) return null;
  return parts;
}

export function isValidUserId(s: string): boolean {
  return parseUserId(s) !== null;
}

/** The localpart grammar for new user IDs. spec: Appendices §"User Identifiers" (since v1.8). */
export function isValidLocalpart(localpart: string): boolean {
  return /^[a-z0-9._=\-/+]+$/.test(localpart);
}

/** A user ID that is not only accepted but compliant: what a server may allocate today. */
export function isCompliantUserId(s: string): boolean {
  const parts = parseUserId(s);
  return parts !== null && isValidLocalpart(parts.localpart);
}

// `$` or `!` + 43 characters: unpadded base64 of a sha256 (room versions 3+ and 12).
const STD_HASH_ID = /^[A-Za-z0-9+/]{43}$/;
const URL_HASH_ID = /^[A-Za-z0-9_-]{43}$/;

function isDomainScopedId(s: string, sigil: string): boolean {
  const parts = splitId(s, sigil);
  return parts !== null && parts.localpart !== '' && isOpaqueLocalpart(parts.localpart) && isValidServerName(parts.serverName);
}

/**
 * spec: Appendices §"Room IDs": `!opaque:domain` before room version 12, `!` + the create event's
 * URL-safe hash from v12. Without a version either form is accepted (e.g. a predecessor room).
 */
export function isValidRoomId(s: string, version?: RoomVersion): boolean {
  if (typeof s !== 'string' || !s.startsWith('!') || byteLength(s) > MAX_ID_BYTES) return false;
  const hashForm = URL_HASH_ID.test(s.slice(1));
  if (version?.privilegedCreators) return hashForm;
  if (version !== undefined) return isDomainScopedId(s, '!');
  return hashForm || isDomainScopedId(s, '!');
}

/**
 * spec: Appendices §"Event IDs" and the room versions' §"Event IDs": `$opaque:domain` (v1, v2),
 * `$` + standard base64 hash (v3), `$` + URL-safe base64 hash (v4+).
 */
export function isValidEventId(s: string, version?: RoomVersion): boolean {
  if (typeof s !== 'string' || !s.startsWith('$') || byteLength(s) > MAX_ID_BYTES) return false;
  const body = s.slice(1);
  switch (version?.eventFormat) {
    case 1:
      return isDomainScopedId(s, '$');
    case 2:
      return STD_HASH_ID.test(body);
    case 3:
      return URL_HASH_ID.test(body);
    default:
      return STD_HASH_ID.test(body) || URL_HASH_ID.test(body) || isDomainScopedId(s, '$');
  }
}

/** spec: Appendices §"Room Aliases": `#localpart:domain`, localpart any code point but `:` and NUL. */
export function isValidRoomAlias(s: string): boolean {
  return typeof s === 'string' && byteLength(s) <= MAX_ID_BYTES && isDomainScopedId(s, '#');
}

/** The server name part of a user ID, room ID, alias or event ID; null for hash-form IDs. */
export function serverNameOf(id: string): string | null {
  if (typeof id !== 'string' || !/^[@!#$]/.test(id)) return null;
  const colon = id.indexOf(':');
  return colon < 0 ? null : id.slice(colon + 1);
}
