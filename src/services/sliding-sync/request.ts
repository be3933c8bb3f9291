/**
 * MSC4186 (simplified sliding sync) request bodies, normalised. Both shapes clients send today are
 * read: `ranges: [[0, 19]]` and `range: [0, 19]`; `required_state` as [type, state_key] pairs (with
 * "*" and "$LAZY") or as {include, exclude, lazy_members}.
 */
import { MatrixError } from '../../errors.js';
import type { JsonObject, JsonValue } from '../../matrix/types.js';

export interface StateRule {
  type?: string;
  stateKey?: string;
}

export interface RoomConfig {
  timelineLimit: number;
  include: StateRule[];
  exclude: StateRule[];
  lazyMembers: boolean;
}

export interface SlidingRoomFilter {
  isDm?: boolean;
  isEncrypted?: boolean;
  isInvited?: boolean;
  roomTypes?: (string | null)[];
  notRoomTypes?: (string | null)[];
  spaces?: string[];
  tags?: string[];
  notTags?: string[];
}

export interface ListConfig extends RoomConfig {
  ranges: [number, number][] | null;
  filters: SlidingRoomFilter;
}

export interface ExtensionConfig {
  enabled: boolean;
  lists?: string[];
  rooms?: string[];
  limit?: number;
  since?: string;
}

export interface SlidingSyncRequest {
  connId: string;
  pos?: string;
  timeout: number;
  setPresence?: string;
  lists: Map<string, ListConfig>;
  subscriptions: Map<string, RoomConfig>;
  extensions: Record<string, ExtensionConfig>;
}

const MAX_TIMELINE_LIMIT = 500;
const MAX_LISTS = 100;

function bad(msg: string): never {
  throw new MatrixError(400, 'M_INVALID_PARAM', msg);
}

function isObj(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseRoomConfig(v: JsonObject, where: string): RoomConfig {
  const limit = v.timeline_limit ?? 0;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0) bad(`${where}.timeline_limit must be a non-negative integer`);
  const cfg: RoomConfig = { timelineLimit: Math.min(limit, MAX_TIMELINE_LIMIT), include: [], exclude: [], lazyMembers: false };
  const rs = v.required_state;
  if (Array.isArray(rs)) {
    for (const pair of rs) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
        bad(`${where}.required_state entries must be [type, state_key] pairs`);
      }
      const [type, stateKey] = pair as [string, string];
      if (type === 'm.room.member' && stateKey === '$LAZY') cfg.lazyMembers = true;
      else cfg.include.push({ type: type === '*' ? undefined : type, stateKey: stateKey === '*' ? undefined : stateKey });
    }
  } else if (isObj(rs)) {
    const rules = (list: JsonValue | undefined, name: string): StateRule[] => {
      if (list === undefined) return [];
      if (!Array.isArray(list)) bad(`${where}.required_state.${name} must be a list`);
      return list.map((r) => {
        if (!isObj(r)) bad(`${where}.required_state.${name} entries must be objects`);
        return { type: typeof r.type === 'string' ? r.type : undefined, stateKey: typeof r.state_key === 'string' ? r.state_key : undefined };
      });
    };
    cfg.include = rules(rs.include, 'include');
    cfg.exclude = rules(rs.exclude, 'exclude');
    cfg.lazyMembers = rs.lazy_members === true;
  } else if (rs !== undefined) {
    bad(`${where}.required_state is malformed`);
  }
  return cfg;
}

function parseRange(v: JsonValue, where: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0) || (v[0] as number) > (v[1] as number)) {
    bad(`${where} must be [start, end] with 0 <= start <= end`);
  }
  return [v[0] as number, v[1] as number];
}

function optStrings(v: JsonValue | undefined, where: string, allowNull = false): any[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' || (allowNull && s === null))) bad(`${where} must be a list of strings`);
  return v;
}

function optBool(v: JsonValue | undefined, where: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') bad(`${where} must be a boolean`);
  return v;
}

export function parseSlidingSyncRequest(body: JsonObject, query: Record<string, string | undefined>): SlidingSyncRequest {
  const lists = new Map<string, ListConfig>();
  const rawLists = body.lists ?? {};
  if (!isObj(rawLists)) bad('lists must be an object');
  if (Object.keys(rawLists).length > MAX_LISTS) bad(`at most ${MAX_LISTS} lists`);
  for (const [key, raw] of Object.entries(rawLists)) {
    if (!isObj(raw)) bad(`lists.${key} must be an object`);
    const base = parseRoomConfig(raw, `lists.${key}`);
    let ranges: [number, number][] | null = null;
    if (raw.ranges !== undefined) {
      if (!Array.isArray(raw.ranges)) bad(`lists.${key}.ranges must be a list`);
      ranges = raw.ranges.map((r, i) => parseRange(r, `lists.${key}.ranges[${i}]`));
    } else if (raw.range !== undefined) {
      ranges = [parseRange(raw.range, `lists.${key}.range`)];
    }
    const f = isObj(raw.filters) ? raw.filters : {};
    lists.set(key, {
      ...base,
      ranges,
      filters: {
        isDm: optBool(f.is_dm, `lists.${key}.filters.is_dm`),
        isEncrypted: optBool(f.is_encrypted, `lists.${key}.filters.is_encrypted`),
        isInvited: optBool(f.is_invited ?? f.is_invite, `lists.${key}.filters.is_invited`),
        roomTypes: optStrings(f.room_types, `lists.${key}.filters.room_types`, true),
        notRoomTypes: optStrings(f.not_room_types, `lists.${key}.filters.not_room_types`, true),
        spaces: optStrings(f.spaces, `lists.${key}.filters.spaces`),
        tags: optStrings(f.tags, `lists.${key}.filters.tags`),
        notTags: optStrings(f.not_tags, `lists.${key}.filters.not_tags`),
      },
    });
  }
  const subscriptions = new Map<string, RoomConfig>();
  const rawSubs = body.room_subscriptions ?? {};
  if (!isObj(rawSubs)) bad('room_subscriptions must be an object');
  for (const [roomId, raw] of Object.entries(rawSubs)) {
    if (!isObj(raw)) bad(`room_subscriptions.${roomId} must be an object`);
    subscriptions.set(roomId, parseRoomConfig(raw, `room_subscriptions.${roomId}`));
  }
  const extensions: Record<string, ExtensionConfig> = {};
  if (isObj(body.extensions)) {
    for (const [name, raw] of Object.entries(body.extensions)) {
      if (!isObj(raw)) continue;
      if (raw.enabled !== undefined && raw.enabled !== null && typeof raw.enabled !== 'boolean') bad(`extensions.${name}.enabled must be a boolean`);
      // MSC3885: the to-device since token is the next_batch this server handed out.
      if (name === 'to_device' && raw.since !== undefined && raw.since !== null && (typeof raw.since !== 'string' || !/^\d{1,15}$/.test(raw.since))) {
        bad('extensions.to_device.since must be a next_batch token from this server');
      }
      extensions[name] = {
        enabled: raw.enabled === true,
        lists: optStrings(raw.lists, `extensions.${name}.lists`),
        rooms: optStrings(raw.rooms, `extensions.${name}.rooms`),
        limit: typeof raw.limit === 'number' ? raw.limit : undefined,
        since: typeof raw.since === 'string' ? raw.since : undefined,
      };
    }
  }
  const timeoutRaw = query.timeout ?? (typeof body.timeout === 'number' ? String(body.timeout) : undefined);
  const timeout = timeoutRaw === undefined ? 0 : Number(timeoutRaw);
  if (!Number.isFinite(timeout) || timeout < 0) bad('timeout must be a non-negative number');
  const setPresence = query.set_presence ?? (typeof body.set_presence === 'string' ? body.set_presence : undefined);
  if (setPresence !== undefined && !['online', 'offline', 'unavailable'].includes(setPresence)) bad('set_presence must be online, offline or unavailable');
  return {
    connId: typeof body.conn_id === 'string' ? body.conn_id : '',
    pos: query.pos ?? (typeof body.pos === 'string' ? body.pos : undefined),
    timeout,
    setPresence,
    lists,
    subscriptions,
    extensions,
  };
}

/** spec (MSC4186): combined configs take the maximum timeline limit and the union of state rules. */
export function combineConfigs(configs: RoomConfig[]): RoomConfig {
  return {
    timelineLimit: Math.max(0, ...configs.map((c) => c.timelineLimit)),
    include: configs.flatMap((c) => c.include),
    exclude: configs.length === 1 ? configs[0]!.exclude : [],
    lazyMembers: configs.some((c) => c.lazyMembers),
  };
}

export function matchesRule(rule: StateRule, type: string, stateKey: string, userId: string): boolean {
  if (rule.type !== undefined && rule.type !== type) return false;
  if (rule.stateKey === undefined) return true;
  return rule.stateKey === stateKey || (rule.stateKey === '$ME' && stateKey === userId);
}
