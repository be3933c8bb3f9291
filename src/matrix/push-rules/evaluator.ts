/**
 * Push rule evaluation (spec: Client-Server API §11.12.1 "Push Rules", "Conditions").
 *
 * This runs for every member of a room on every event, so the event is flattened once
 * (`prepareEvent`, reusable across members) and its strings are lower-cased once. Patterns
 * without wildcards (most default rules: user IDs, localparts, display names) are plain string
 * comparisons; real globs compile once, into a bounded cache, to regular expressions that cannot
 * backtrack catastrophically (see `compileGlob`).
 *
 * The caller must not evaluate a user's own events at all: "Homeservers MUST NOT notify the Push
 * Gateway for events that the user has sent themselves" (spec: "Push Rules"); `isSelfEvent`.
 */
import type { JsonObject, RoomEvent } from '../types.js';
import { LEGACY_MENTION_RULE_IDS } from './default-rules.js';
import { PUSH_RULE_KINDS, type PushAction, type PushCondition, type PushRule, type PushRuleKind, type Ruleset } from './ruleset.js';

export interface PushContext {
  /** The user whose rules these are. */
  userId: string;
  /** The user's display name in this room (for contains_display_name). */
  displayName?: string;
  /** Joined members of the room (spec: room_member_count). */
  roomMemberCount: number;
  /** The sender's power level in the room. */
  senderPowerLevel: number;
  /** `notifications` of m.room.power_levels; a missing key means 50 (spec: m.room.power_levels, notifications.room). */
  notificationPowerLevels: Record<string, number>;
}

export interface PushResult {
  /** The matching rule, or null when none matched (then: no notification). */
  rule_id: string | null;
  kind: PushRuleKind | null;
  /** The rule's actions minus the historical no-ops. */
  actions: PushAction[];
  notify: boolean;
  /** Only with `notify`: a highlight tweak without a notification is not counted anywhere. */
  highlight: boolean;
  sound?: string;
}

/** spec: "Homeservers MUST NOT notify the Push Gateway for events that the user has sent themselves." */
export function isSelfEvent(event: RoomEvent | JsonObject | PreparedEvent, userId: string): boolean {
  const sender = event instanceof PreparedEvent ? event.flat.get('sender') : (event as { sender?: unknown }).sender;
  return sender === userId;
}

// ---------------------------------------------------------------------------------------------
// Flattening (spec: Appendices "Dot-separated property paths")

type Simple = string | number | boolean | null;
type FlatValue = Simple | Simple[];

/** Deeper nesting is ignored: an event is at most 64 KiB and no push rule looks that deep. */
const MAX_DEPTH = 32;

function isSimple(v: unknown): v is Simple {
  // spec: event_property_is "only supports non-compound canonical JSON values: strings, integers in
  // the range of [-(2**53)+1, (2**53)-1], booleans, and null" — floats are not canonical JSON.
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isSafeInteger(v));
}

/** Escape one property name: "any literal dot or backslash ... should be escaped with a backslash". */
function escapeSegment(name: string): string {
  return name.includes('\\') || name.includes('.') ? name.replace(/[\\.]/g, (c) => '\\' + c) : name;
}

function flattenInto(obj: Record<string, unknown>, prefix: string, out: Map<string, FlatValue>, depth: number): void {
  for (const name of Object.keys(obj)) {
    const value = obj[name];
    const path = prefix + escapeSegment(name);
    if (isSimple(value)) out.set(path, value);
    else if (Array.isArray(value)) out.set(path, value.filter(isSimple));
    else if (value !== null && typeof value === 'object' && depth < MAX_DEPTH) {
      flattenInto(value as Record<string, unknown>, path + '.', out, depth + 1);
    }
  }
}

/** An event flattened once, for evaluating many users' rules against it. */
export class PreparedEvent {
  readonly flat = new Map<string, FlatValue>();
  /** spec v1.7: legacy mention rules apply only "if the event does not have an m.mentions property". */
  readonly hasMentions: boolean;

  private readonly lowerCache = new Map<string, string>();

  constructor(event: RoomEvent | JsonObject) {
    flattenInto(event as unknown as Record<string, unknown>, '', this.flat, 0);
    const content = (event as { content?: unknown }).content;
    this.hasMentions = content !== null && typeof content === 'object' && Object.hasOwn(content, 'm.mentions');
  }

  /** The lower-cased string at a canonical key, computed once per event; undefined if not a string. */
  lowered(canonical: string): string | undefined {
    const cached = this.lowerCache.get(canonical);
    if (cached !== undefined) return cached;
    const value = this.flat.get(canonical);
    if (typeof value !== 'string') return undefined;
    const lower = value.toLowerCase();
    this.lowerCache.set(canonical, lower);
    return lower;
  }
}

export function prepareEvent(event: RoomEvent | JsonObject): PreparedEvent {
  return new PreparedEvent(event);
}

/**
 * A condition key in canonical escaped form, so lookups hit the flattened map. "Other escape
 * sequences are left as-is, e.g. a \x would be treated as a literal backslash followed by 'x'"
 * (spec: Appendices "Dot-separated property paths"), so `\x` and `\\x` name the same property.
 */
export function canonicalKey(key: string): string {
  if (!key.includes('\\')) return key;
  const cached = keyCache.get(key);
  if (cached !== undefined) return cached;
  const segments: string[] = [];
  let cur = '';
  for (let i = 0; i < key.length; i++) {
    const c = key[i]!;
    if (c === '\\') {
      const n = key[i + 1];
      if (n === '.' || n === '\\') {
        cur += n;
        i++;
      } else cur += '\\';
    } else if (c === '.') {
      segments.push(cur);
      cur = '';
    } else cur += c;
  }
  segments.push(cur);
  const out = segments.map(escapeSegment).join('.');
  remember(keyCache, key, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Globs (spec: Appendices "Glob-style matching": `*` is zero or more characters, `?` exactly one)

interface Matcher {
  test(value: string): boolean;
}

const CACHE_LIMIT = 2000;
const globCache = new Map<string, Matcher>();
const keyCache = new Map<string, string>();

/** A small bounded cache: forgetting everything now and then is fine for patterns this cheap to rebuild. */
function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, value);
}

// Case-insensitivity is done by lower-casing both sides ("the exact meaning of case insensitive
// is defined by the implementation"), so the expressions below see lower-case text only.
const WORD = '[a-z0-9_]';
/** The word-boundary rule for content.body: the match starts and ends at the start or end of the value or next to a character outside [A-Za-z0-9_]. */
const STARTS_AT_BOUNDARY = `(?<!${WORD})`;
const ENDS_AT_BOUNDARY = `(?!${WORD})`;

function segmentSource(segment: string): string {
  let src = '';
  for (const ch of segment) {
    if (ch === '?') src += '.';
    else src += /[\\^$.*+?()[\]{}|/]/.test(ch) ? '\\' + ch : ch;
  }
  return src;
}

function isWordChar(code: number): boolean {
  return (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) || code === 0x5f || (code >= 0x41 && code <= 0x5a);
}

/** Does `needle` occur in `haystack` starting and ending at word boundaries? Both lower-cased. */
function containsAtWordBoundaries(haystack: string, needle: string): boolean {
  let i = haystack.indexOf(needle);
  while (i !== -1) {
    const end = i + needle.length;
    const startsOk = i === 0 || !isWordChar(haystack.charCodeAt(i - 1));
    if (startsOk && (end === haystack.length || !isWordChar(haystack.charCodeAt(end)))) return true;
    if (i >= haystack.length) return false;
    i = haystack.indexOf(needle, i + 1);
  }
  return false;
}

/** Glob-match an already lower-cased value; `whole` as for `compileGlob`. */
function globMatches(pattern: string, lowerValue: string, whole: boolean): boolean {
  const p = pattern.toLowerCase();
  if (!p.includes('*') && !p.includes('?')) {
    return whole ? lowerValue === p : containsAtWordBoundaries(lowerValue, p);
  }
  return compileGlob(p, whole).test(lowerValue);
}

/**
 * Compile a lower-cased glob. `whole`: the pattern must match the entire value (event_match). Otherwise it
 * must match a substring starting and ending at word boundaries (content.body, content rules,
 * display names).
 *
 * Backtracking safety: with stars the pattern is split into segments S0*S1*…*Sk. Placing each
 * middle segment at its leftmost possible position never loses a match, so middle segments are
 * matched "atomically" (lookahead + backreference, which JS regexes cannot undo), and the last
 * is found by one scan. For word mode, the leftmost start of S0 likewise dominates later starts,
 * so only that one is tried. Everything is then linear-ish in the value's length.
 */
function compileGlob(pattern: string, whole: boolean): Matcher {
  const cacheKey = (whole ? 'W' : 'B') + pattern;
  const cached = globCache.get(cacheKey);
  if (cached) return cached;
  // `s`: `?` and `*` span newlines; `u`: `?` is one code point, not half a surrogate pair.
  const flags = 'su';
  const src = pattern.split(/\*+/).map(segmentSource);
  let matcher: Matcher;
  if (src.length === 1) {
    const re = whole ? new RegExp(`^${src[0]}$`, flags) : new RegExp(`${STARTS_AT_BOUNDARY}${src[0]}${ENDS_AT_BOUNDARY}`, flags);
    matcher = { test: (v) => re.test(v) };
  } else {
    const middle = src.slice(1, -1).map((s, i) => `(?=([\\s\\S]*?${s}))\\${i + 1}`).join('');
    const last = src[src.length - 1]!;
    if (whole) {
      const re = new RegExp(`^${src[0]}${middle}[\\s\\S]*${last}$`, flags);
      matcher = { test: (v) => re.test(v) };
    } else {
      const head = new RegExp(`${STARTS_AT_BOUNDARY}${src[0]}`, 'gsu');
      const n = src.length - 1;
      const tail = new RegExp(`${middle}(?=([\\s\\S]*?${last}${ENDS_AT_BOUNDARY}))\\${n}`, 'ysu');
      matcher = {
        test(v) {
          head.lastIndex = 0;
          const m = head.exec(v);
          if (!m) return false;
          tail.lastIndex = m.index + m[0].length;
          return tail.test(v);
        },
      };
    }
  }
  remember(globCache, cacheKey, matcher);
  return matcher;
}

// ---------------------------------------------------------------------------------------------
// Conditions (spec: Client-Server API "Push Rules" > "Conditions")

function isBodyKey(key: string): boolean {
  return key === 'content.body';
}

export function eventMatch(ev: PreparedEvent, key: string, pattern: string): boolean {
  const canonical = canonicalKey(key);
  const value = ev.lowered(canonical);
  // "If the property ... is completely absent from the event, or does not have a string value,
  // then the condition will not match, even if pattern is *."
  if (value === undefined) return false;
  // "As a special case, if key is content.body, then pattern must instead match any substring of
  // the value of the property which starts and ends at a word boundary."
  return globMatches(pattern, value, !isBodyKey(canonical));
}

function sameSimple(a: FlatValue | undefined, b: unknown): boolean {
  return isSimple(b) && !Array.isArray(a) && a === b;
}

/** `2`, `==2`, `<2`, `>2`, `<=2`, `>=2` (spec: room_member_count). Anything else never matches. */
function memberCountMatches(is: string, count: number): boolean {
  const m = /^(==|<=|>=|<|>)?([0-9]+)$/.exec(is);
  if (!m) return false;
  const n = Number(m[2]);
  switch (m[1]) {
    case '<': return count < n;
    case '>': return count > n;
    case '<=': return count <= n;
    case '>=': return count >= n;
    default: return count === n;
  }
}

export function conditionMatches(c: PushCondition, ev: PreparedEvent, ctx: PushContext): boolean {
  if (c === null || typeof c !== 'object') return false;
  switch (c.kind) {
    case 'event_match':
      return typeof c.key === 'string' && typeof c.pattern === 'string' && eventMatch(ev, c.key, c.pattern);
    case 'event_property_is':
      // "The match is performed exactly": no case folding, no type casting ("true" ≠ true, 1 ≠ true).
      return typeof c.key === 'string' && sameSimple(ev.flat.get(canonicalKey(c.key)), c.value);
    case 'event_property_contains': {
      if (typeof c.key !== 'string' || !isSimple(c.value)) return false;
      const arr = ev.flat.get(canonicalKey(c.key));
      return Array.isArray(arr) && arr.includes(c.value);
    }
    case 'contains_display_name': {
      // "matches messages where content.body contains the owner's display name in that room";
      // the name is matched literally, at word boundaries, like a content-rule pattern.
      const name = ctx.displayName;
      const body = ev.lowered('content.body');
      return typeof name === 'string' && name !== '' && body !== undefined && containsAtWordBoundaries(body, name.toLowerCase());
    }
    case 'room_member_count':
      return typeof c.is === 'string' && memberCountMatches(c.is, ctx.roomMemberCount);
    case 'sender_notification_permission': {
      if (typeof c.key !== 'string') return false;
      const needed = Object.hasOwn(ctx.notificationPowerLevels, c.key) ? ctx.notificationPowerLevels[c.key]! : 50;
      return ctx.senderPowerLevel >= needed;
    }
    default:
      // "Unrecognised conditions MUST NOT match any events, effectively making the push rule disabled."
      return false;
  }
}

export function ruleMatches(kind: PushRuleKind, rule: PushRule, ev: PreparedEvent, ctx: PushContext): boolean {
  switch (kind) {
    case 'override':
    case 'underride':
      // "A rule with no conditions always matches."
      return (rule.conditions ?? []).every((c) => conditionMatches(c, ev, ctx));
    case 'content':
      // Content rules: "pattern ... must match any substring of the content.body property which
      // starts and ends at a word boundary" — the content.body special case of event_match.
      return typeof rule.pattern === 'string' && eventMatch(ev, 'content.body', rule.pattern);
    case 'room':
      // "The rule_id of a room rule is always the ID of the room that it affects."
      return ev.flat.get('room_id') === rule.rule_id;
    case 'sender':
      // "The rule_id of Sender rules is always the Matrix user ID of the user whose messages they'd apply to."
      return ev.flat.get('sender') === rule.rule_id;
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

export function summarise(rule: PushRule | null, kind: PushRuleKind | null): PushResult {
  // spec: "Historical Actions": dont_notify and coalesce "MUST" be ignored.
  const actions = (rule?.actions ?? []).filter((a) => a !== 'dont_notify' && a !== 'coalesce');
  const notify = actions.includes('notify');
  let highlight = false;
  let sound: string | undefined;
  for (const a of actions) {
    if (typeof a !== 'object' || a === null) continue;
    // "If a highlight tweak is given with no value, its value is defined to be true."
    if (a.set_tweak === 'highlight') highlight = a.value === undefined || a.value === true;
    else if (a.set_tweak === 'sound' && typeof a.value === 'string') sound = a.value;
  }
  const result: PushResult = { rule_id: rule?.rule_id ?? null, kind, actions, notify, highlight: notify && highlight };
  if (sound !== undefined) result.sound = sound;
  return result;
}

/**
 * The first enabled matching rule wins, kinds checked override → content → room → sender →
 * underride (spec: "Push Rules"); "Disabled rules never match".
 */
export function evaluate(ruleset: Ruleset, event: RoomEvent | JsonObject | PreparedEvent, ctx: PushContext): PushResult {
  const ev = event instanceof PreparedEvent ? event : new PreparedEvent(event);
  for (const kind of PUSH_RULE_KINDS) {
    for (const rule of ruleset[kind] ?? []) {
      if (!rule.enabled) continue;
      // spec v1.7-v1.16: the legacy mention rules "should only be enabled if the event does not have an m.mentions property".
      if (ev.hasMentions && rule.default && LEGACY_MENTION_RULE_IDS.has(rule.rule_id)) continue;
      if (ruleMatches(kind, rule, ev, ctx)) return summarise(rule, kind);
    }
  }
  return summarise(null, null);
}
