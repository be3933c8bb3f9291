/**
 * The published room directory (spec: Client-Server API "Published Room Directory"): listing the
 * published rooms (GET/POST /publicRooms) and publishing a room (GET/PUT /directory/list/room).
 */
import type { Storage } from '../../storage/index.js';
import type { DirectoryStore, DirectoryCursor, PublishedRoomRow } from '../../storage/directory.js';
import type { JsonObject } from '../../matrix/types.js';
import { isValidRoomId, isValidServerName } from '../../matrix/ids.js';
import { powerLevelsFromState, requiredPowerLevel, userPowerLevel } from '../../matrix/power-levels.js';
import { MatrixError, forbidden, notFound } from '../../errors.js';
import type { Requester } from '../auth.js';
import type { RoomStateService } from './room-state.js';

/** Without a limit every room is listed, in pages of at most this many. */
const MAX_LIMIT = 1000;

export interface PublicRoomsRequest {
  limit?: number;
  since?: string;
  server?: string;
  searchTerm?: string;
  roomTypes?: (string | null)[];
  includeAllNetworks?: boolean;
  thirdPartyInstanceId?: string;
}

export interface PublicRoomsResponse {
  chunk: JsonObject[];
  next_batch?: string;
  prev_batch?: string;
  total_room_count_estimate: number;
}

/** Pagination tokens are opaque to clients: the cursor of the room at the page's edge and a direction. */
function encodeToken(row: PublishedRoomRow, dir: 'f' | 'b'): string {
  return Buffer.from(JSON.stringify([dir, row.joinedMembers, row.roomId])).toString('base64url');
}

function decodeToken(token: string): DirectoryCursor & { dir: 'f' | 'b' } {
  try {
    const [dir, joinedMembers, roomId] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown[];
    if ((dir === 'f' || dir === 'b') && Number.isSafeInteger(joinedMembers) && typeof roomId === 'string') {
      return { dir, joinedMembers: joinedMembers as number, roomId };
    }
  } catch {
    /* falls through */
  }
  throw new MatrixError(400, 'M_INVALID_PARAM', 'Invalid pagination token');
}

function toChunk(r: PublishedRoomRow): JsonObject {
  const chunk: JsonObject = {
    room_id: r.roomId,
    num_joined_members: r.joinedMembers,
    world_readable: r.historyVisibility === 'world_readable',
    guest_can_join: r.guestAccess === 'can_join',
  };
  if (r.name !== null) chunk.name = r.name;
  if (r.topic !== null) chunk.topic = r.topic;
  if (r.canonicalAlias !== null) chunk.canonical_alias = r.canonicalAlias;
  if (r.avatarUrl !== null) chunk.avatar_url = r.avatarUrl;
  if (r.joinRule !== null) chunk.join_rule = r.joinRule;
  if (r.roomType !== null) chunk.room_type = r.roomType;
  return chunk;
}

export class DirectoryService {
  constructor(
    private readonly storage: Storage,
    private readonly directory: DirectoryStore,
    private readonly roomState: RoomStateService,
    private readonly serverName: string,
  ) {}

  async publicRooms(req: PublicRoomsRequest): Promise<PublicRoomsResponse> {
    // spec: Appendices "Server Name": a `server` outside the grammar names no server at all, so it
    // is the client's error, not a failure to reach another server.
    if (req.server !== undefined && !isValidServerName(req.server)) {
      throw new MatrixError(400, 'M_INVALID_PARAM', 'server must be a valid server name');
    }
    if (req.server !== undefined && req.server !== this.serverName) {
      // Another server's directory is fetched over federation, which Veche does not speak yet.
      throw new MatrixError(502, 'M_UNKNOWN', `Cannot fetch the room directory of ${req.server}: federation is not available`);
    }
    if (req.includeAllNetworks && req.thirdPartyInstanceId !== undefined) {
      throw new MatrixError(400, 'M_INVALID_PARAM', "Can't use include_all_networks with an explicit network");
    }
    if (req.limit !== undefined && (!Number.isSafeInteger(req.limit) || req.limit < 0)) {
      throw new MatrixError(400, 'M_INVALID_PARAM', 'limit must be a non-negative integer');
    }
    // No application service publishes rooms to a third-party network here, so such a network
    // lists nothing; include_all_networks adds nothing to the local directory.
    if (req.thirdPartyInstanceId !== undefined) return { chunk: [], total_room_count_estimate: 0 };

    const filter = { searchTerm: req.searchTerm?.trim() || undefined, roomTypes: req.roomTypes };
    const limit = Math.min(req.limit === undefined || req.limit === 0 ? MAX_LIMIT : req.limit, MAX_LIMIT);
    const cursor = req.since ? decodeToken(req.since) : undefined;
    const rows = await this.directory.page({ ...filter, cursor, limit });
    const total = await this.directory.count(filter);

    const more = rows.length > limit;
    // The extra row lies beyond the page: after it going forwards, before it going backwards.
    const page = more ? (cursor?.dir === 'b' ? rows.slice(1) : rows.slice(0, limit)) : rows;
    const out: PublicRoomsResponse = { chunk: page.map(toChunk), total_room_count_estimate: total };
    if (page.length) {
      const first = page[0]!;
      const last = page[page.length - 1]!;
      if (cursor?.dir === 'b') {
        if (more) out.prev_batch = encodeToken(first, 'b');
        out.next_batch = encodeToken(last, 'f');
      } else {
        if (more) out.next_batch = encodeToken(last, 'f');
        if (cursor) out.prev_batch = encodeToken(first, 'b');
      }
    }
    return out;
  }

  async visibility(roomId: string): Promise<{ visibility: 'public' | 'private' }> {
    if (!isValidRoomId(roomId)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid room ID ${roomId}`);
    const isPublic = await this.storage.aliases.isPublic(roomId);
    if (isPublic === undefined) throw notFound('Room not found');
    return { visibility: isPublic ? 'public' : 'private' };
  }

  /**
   * spec: PUT /directory/list/room/{roomId} lets servers add access checks. As Synapse does, a
   * server admin may, and so may a member of the room allowed to send m.room.canonical_alias.
   */
  async setVisibility(requester: Requester, roomId: string, visibility: 'public' | 'private'): Promise<void> {
    if (!isValidRoomId(roomId)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid room ID ${roomId}`);
    if (!(await this.roomState.roomExists(roomId))) throw notFound('Room not found');
    if (!requester.isAdmin) await this.checkCanChangeRoomList(requester.userId, roomId);
    await this.storage.aliases.setPublic(this.storage.db, roomId, visibility === 'public');
  }

  /** A joined member with the power to send m.room.canonical_alias. */
  async checkCanChangeRoomList(userId: string, roomId: string): Promise<void> {
    const { membership } = await this.roomState.membership(roomId, userId);
    if (membership !== 'join') throw forbidden('You must be in the room to change its directory visibility');
    const version = await this.roomState.roomVersion(roomId);
    const state = await this.roomState.currentState(roomId, ['m.room.create\u0000', 'm.room.power_levels\u0000']);
    const needed = requiredPowerLevel(powerLevelsFromState(state, version), 'm.room.canonical_alias', true);
    if (userPowerLevel(userId, state, version) < needed) {
      throw forbidden('You need the power to change the room\'s canonical alias to change its directory visibility');
    }
  }
}
