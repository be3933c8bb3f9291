/**
 * Spaces (spec: Client-Server API §"Spaces") and room summaries (spec: §"Room summaries",
 * MSC3266): the hierarchy of a space tree and the summary of one room, for rooms the requester
 * may see or join. Spaces are how this product models teams (a space) and their channels (its
 * child rooms, often restricted to the team's members).
 */
import type { Storage } from '../storage/index.js';
import { stateKeyOf, type JsonObject, type RoomEvent, type StateIdMap, type StateMap } from '../matrix/types.js';
import { getRoomVersion, type RoomVersion } from '../matrix/room-versions.js';
import { isValidRoomAlias, isValidRoomId } from '../matrix/ids.js';
import { MatrixError, forbidden, notFound } from '../errors.js';
import type { RoomStateService } from './rooms/room-state.js';
import type { AliasService } from './rooms/aliases.js';

/** Rooms per hierarchy page: the default and the most a client may ask for (as Synapse). */
const MAX_LIMIT = 50;
/** How deep a hierarchy goes when the client sets no max_depth, and the most it may ask for. */
const MAX_DEPTH = 50;
/** A bound on the rooms one hierarchy request looks at, against huge or hostile trees. */
const MAX_VISITED = 5000;

const SPACE_CHILD = 'm.space.child';
const SUMMARY_STATE = [
  'm.room.create',
  'm.room.name',
  'm.room.topic',
  'm.room.canonical_alias',
  'm.room.avatar',
  'm.room.join_rules',
  'm.room.history_visibility',
  'm.room.guest_access',
  'm.room.encryption',
].map((t) => stateKeyOf(t, ''));

/** What this module reads about one room from its current state. */
interface RoomFacts {
  roomId: string;
  version: RoomVersion;
  ids: StateIdMap;
  state: StateMap;
}

export interface HierarchyRequest {
  suggestedOnly: boolean;
  maxDepth?: number;
  limit?: number;
  from?: string;
}

export interface HierarchyResponse {
  rooms: JsonObject[];
  next_batch?: string;
}

/** The pagination token: the traversal is deterministic, so a page is "skip the first n rooms". */
interface HierarchyToken {
  room: string;
  user: string;
  suggestedOnly: boolean;
  maxDepth: number | null;
  skip: number;
}

function encodeToken(t: HierarchyToken): string {
  return Buffer.from(JSON.stringify([1, t.room, t.user, t.suggestedOnly, t.maxDepth, t.skip])).toString('base64url');
}

function decodeToken(token: string): HierarchyToken {
  try {
    const [v, room, user, suggestedOnly, maxDepth, skip] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown[];
    if (
      v === 1 &&
      typeof room === 'string' &&
      typeof user === 'string' &&
      typeof suggestedOnly === 'boolean' &&
      (maxDepth === null || Number.isSafeInteger(maxDepth)) &&
      Number.isSafeInteger(skip) &&
      (skip as number) > 0
    ) {
      return { room, user, suggestedOnly, maxDepth: maxDepth as number | null, skip: skip as number };
    }
  } catch {
    /* falls through */
  }
  throw new MatrixError(400, 'M_INVALID_PARAM', 'Unknown pagination token');
}

function stringField(content: JsonObject | undefined, key: string): string | undefined {
  const v = content?.[key];
  return typeof v === 'string' ? v : undefined;
}

/** spec: m.room.topic — the text/plain representation of m.topic, else the legacy `topic`. */
function topicOf(content: JsonObject | undefined): string | undefined {
  const topic = content?.['m.topic'];
  const text = topic && typeof topic === 'object' && !Array.isArray(topic) ? (topic as JsonObject)['m.text'] : topic;
  if (Array.isArray(text)) {
    for (const b of text as JsonObject[]) {
      if (b && typeof b === 'object' && typeof b.body === 'string' && (b.mimetype === undefined || b.mimetype === 'text/plain')) return b.body;
    }
  }
  return stringField(content, 'topic');
}

/** spec: m.space.child — `order` counts only if a string of at most 50 characters in 0x20–0x7E. */
function validOrder(content: JsonObject): string | undefined {
  const order = content.order;
  if (typeof order !== 'string' || order.length > 50 || !/^[\x20-\x7e]*$/.test(order)) return undefined;
  return order;
}

/** A child with no non-empty `via` list is not a child (spec: m.space.child). */
function hasValidVia(content: JsonObject): boolean {
  const via = content.via;
  return Array.isArray(via) && via.length > 0 && via.every((v) => typeof v === 'string');
}

/**
 * spec: m.space.child "Ordering": by `order` (rooms without one last), then by origin_server_ts,
 * then by room ID.
 */
export function compareChildren(a: RoomEvent, b: RoomEvent): number {
  const oa = validOrder(a.content);
  const ob = validOrder(b.content);
  if (oa !== ob) {
    if (oa === undefined) return 1;
    if (ob === undefined) return -1;
    return oa < ob ? -1 : 1;
  }
  if (a.origin_server_ts !== b.origin_server_ts) return a.origin_server_ts - b.origin_server_ts;
  const ka = a.state_key ?? '';
  const kb = b.state_key ?? '';
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export class SpaceService {
  constructor(
    private readonly storage: Storage,
    private readonly roomState: RoomStateService,
    private readonly aliases: AliasService,
  ) {}

  /** The room's current state as far as summaries need it; undefined for a room not known here. */
  private async facts(roomId: string): Promise<RoomFacts | undefined> {
    if (!isValidRoomId(roomId)) return undefined;
    const versionId = await this.storage.events.roomVersion(roomId);
    const version = versionId ? getRoomVersion(versionId) : undefined;
    if (!version) return undefined;
    const ids = await this.roomState.currentStateIds(roomId);
    if (!ids.size) return undefined;
    return { roomId, version, ids, state: await this.roomState.eventsOf(ids, SUMMARY_STATE) };
  }

  private content(f: RoomFacts, type: string): JsonObject | undefined {
    return f.state.get(stateKeyOf(type, ''))?.content;
  }

  private async membershipOf(f: RoomFacts, userId: string): Promise<string | undefined> {
    const id = f.ids.get(stateKeyOf('m.room.member', userId));
    if (!id) return undefined;
    const m = (await this.storage.events.getEvent(id))?.event.content.membership;
    return typeof m === 'string' ? m : undefined;
  }

  /** The rooms a restricted room's join rules name, or undefined when the room is not restricted. */
  private allowedRoomIds(f: RoomFacts): string[] | undefined {
    const rules = this.content(f, 'm.room.join_rules');
    const rule = rules?.join_rule;
    const restricted = (rule === 'restricted' && f.version.restrictedJoinRule) || (rule === 'knock_restricted' && f.version.knockRestrictedJoinRule);
    if (!restricted) return undefined;
    const allow = Array.isArray(rules!.allow) ? (rules!.allow as JsonObject[]) : [];
    return allow.filter((a) => a && a.type === 'm.room_membership' && typeof a.room_id === 'string').map((a) => a.room_id as string);
  }

  /**
   * spec: GET /hierarchy "the server should return any rooms where at least one of the following
   * conditions is true" — public or knockable join rules, world_readable history, or a requester
   * who is joined, invited, or may join a restricted room through one of its allowed rooms.
   */
  private async accessible(f: RoomFacts, userId: string | undefined): Promise<boolean> {
    const rule = this.content(f, 'm.room.join_rules')?.join_rule;
    if (rule === 'public') return true;
    if (rule === 'knock' && f.version.knockJoinRule) return true;
    if (rule === 'knock_restricted' && f.version.knockRestrictedJoinRule) return true;
    if (this.content(f, 'm.room.history_visibility')?.history_visibility === 'world_readable') return true;
    if (userId === undefined) return false;
    const membership = await this.membershipOf(f, userId);
    if (membership === 'join' || membership === 'invite') return true;
    for (const allowed of this.allowedRoomIds(f) ?? []) {
      if (!(await this.roomState.roomExists(allowed))) continue;
      if ((await this.roomState.membership(allowed, userId)).membership === 'join') return true;
    }
    return false;
  }

  /** The RoomSummary fields (spec: definitions/room_summary.yaml), absent fields omitted. */
  private async entry(f: RoomFacts): Promise<JsonObject> {
    const joined = (await this.storage.timeline.summaries([f.roomId], '')).get(f.roomId)?.joined ?? 0;
    const entry: JsonObject = {
      room_id: f.roomId,
      num_joined_members: joined,
      world_readable: this.content(f, 'm.room.history_visibility')?.history_visibility === 'world_readable',
      guest_can_join: this.content(f, 'm.room.guest_access')?.guest_access === 'can_join',
      room_version: f.version.id,
    };
    const optional: [string, string | undefined][] = [
      ['name', stringField(this.content(f, 'm.room.name'), 'name')],
      ['topic', topicOf(this.content(f, 'm.room.topic'))],
      ['canonical_alias', stringField(this.content(f, 'm.room.canonical_alias'), 'alias')],
      ['avatar_url', stringField(this.content(f, 'm.room.avatar'), 'url')],
      ['join_rule', stringField(this.content(f, 'm.room.join_rules'), 'join_rule')],
      ['room_type', stringField(this.content(f, 'm.room.create'), 'type')],
      ['encryption', stringField(this.content(f, 'm.room.encryption'), 'algorithm')],
    ];
    for (const [k, v] of optional) if (v !== undefined) entry[k] = v;
    const allowed = this.allowedRoomIds(f);
    if (allowed) entry.allowed_room_ids = allowed;
    return entry;
  }

  /** The space's m.space.child events that count, in the spec's order. */
  private async children(f: RoomFacts, suggestedOnly: boolean): Promise<RoomEvent[]> {
    if (stringField(this.content(f, 'm.room.create'), 'type') !== 'm.space') return [];
    const prefix = stateKeyOf(SPACE_CHILD, '');
    const keys = [...f.ids.keys()].filter((k) => k.startsWith(prefix));
    if (!keys.length) return [];
    const events = [...(await this.roomState.eventsOf(f.ids, keys)).values()];
    return events
      .filter((e) => hasValidVia(e.content) && (!suggestedOnly || e.content.suggested === true))
      .sort(compareChildren);
  }

  /**
   * spec: GET /_matrix/client/v1/rooms/{roomId}/hierarchy. The tree is walked depth-first in the
   * children's order (as the spec and Synapse do); rooms the requester may not see are left out
   * together with their subtrees. Rooms on other servers need federation and are skipped.
   */
  async hierarchy(userId: string, roomId: string, req: HierarchyRequest): Promise<HierarchyResponse> {
    if (!isValidRoomId(roomId)) throw new MatrixError(400, 'M_INVALID_PARAM', `${roomId} is not a valid room ID`);
    if (req.limit !== undefined && (!Number.isSafeInteger(req.limit) || req.limit <= 0)) {
      throw new MatrixError(400, 'M_INVALID_PARAM', 'limit must be a positive integer');
    }
    if (req.maxDepth !== undefined && (!Number.isSafeInteger(req.maxDepth) || req.maxDepth < 0)) {
      throw new MatrixError(400, 'M_INVALID_PARAM', 'max_depth must be a non-negative integer');
    }
    const maxDepth = req.maxDepth ?? null;
    let skip = 0;
    if (req.from !== undefined) {
      const token = decodeToken(req.from);
      if (token.room !== roomId || token.user !== userId) throw new MatrixError(400, 'M_INVALID_PARAM', 'Unknown pagination token');
      if (token.suggestedOnly !== req.suggestedOnly || token.maxDepth !== maxDepth) {
        throw new MatrixError(400, 'M_INVALID_PARAM', 'suggested_only and max_depth cannot change on paginated requests');
      }
      skip = token.skip;
    }
    const limit = Math.min(req.limit ?? MAX_LIMIT, MAX_LIMIT);
    const depthLimit = Math.min(maxDepth ?? MAX_DEPTH, MAX_DEPTH);

    // spec: 403 "The user cannot view or peek on the room … The room does not exist."
    const root = await this.facts(roomId);
    if (!root || !(await this.accessible(root, userId))) throw forbidden(`You are not allowed to view the room ${roomId}`);

    const rooms: JsonObject[] = [];
    let included = 0;
    let more = false;
    const processed = new Set<string>();
    // A stack: children are pushed in reverse, so the next one in order is popped first.
    const stack: { roomId: string; depth: number; facts?: RoomFacts }[] = [{ roomId, depth: 0, facts: root }];
    while (stack.length && processed.size < MAX_VISITED) {
      const next = stack.pop()!;
      if (processed.has(next.roomId)) continue;
      processed.add(next.roomId);
      const f = next.facts ?? (await this.facts(next.roomId));
      if (!f || (next.depth > 0 && !(await this.accessible(f, userId)))) continue;
      if (rooms.length === limit) {
        // One more room would be shown: there is a next page.
        more = true;
        break;
      }
      const children = await this.children(f, req.suggestedOnly);
      if (included++ >= skip) {
        rooms.push({
          ...(await this.entry(f)),
          children_state: children.map((e) => ({
            type: e.type,
            state_key: e.state_key!,
            content: e.content,
            sender: e.sender,
            origin_server_ts: e.origin_server_ts,
          })),
        });
      }
      if (next.depth < depthLimit) {
        for (let i = children.length - 1; i >= 0; i--) {
          const child = children[i]!.state_key!;
          if (!processed.has(child)) stack.push({ roomId: child, depth: next.depth + 1 });
        }
      }
    }
    const out: HierarchyResponse = { rooms };
    if (more) out.next_batch = encodeToken({ room: roomId, user: userId, suggestedOnly: req.suggestedOnly, maxDepth, skip: skip + rooms.length });
    return out;
  }

  /**
   * spec: GET /_matrix/client/v1/room_summary/{roomIdOrAlias} — the summary of a room the
   * requester may see or join (the hierarchy's rule), with their membership when authenticated.
   * Anything else, an unknown room included, is 404 (spec, and as Synapse).
   */
  async summary(userId: string | undefined, roomIdOrAlias: string): Promise<JsonObject> {
    let roomId = roomIdOrAlias;
    if (roomIdOrAlias.startsWith('#')) {
      if (!isValidRoomAlias(roomIdOrAlias)) throw new MatrixError(400, 'M_INVALID_PARAM', `${roomIdOrAlias} is not a valid room alias`);
      roomId = (await this.aliases.resolve(roomIdOrAlias)).room_id;
    } else if (!isValidRoomId(roomIdOrAlias)) {
      throw new MatrixError(400, 'M_INVALID_PARAM', `${roomIdOrAlias} is not a valid room ID or alias`);
    }
    const f = await this.facts(roomId);
    if (!f || !(await this.accessible(f, userId))) throw notFound('Room not found or is not accessible');
    const out = await this.entry(f);
    if (userId !== undefined) out.membership = (await this.membershipOf(f, userId)) ?? 'leave';
    return out;
  }
}
