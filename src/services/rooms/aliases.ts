/**
 * Room aliases (spec: Client-Server API §10.x "Room aliases"): create, resolve, delete, list.
 * Only local aliases can be created here; resolving remote ones comes with federation.
 */
import type { Storage } from '../../storage/index.js';
import { isValidRoomAlias, isValidRoomId, serverNameOf } from '../../matrix/ids.js';
import { stateKeyOf, type JsonObject } from '../../matrix/types.js';
import { getLogger } from '../../logging.js';
import { MatrixError, forbidden, notFound } from '../../errors.js';
import type { Requester } from '../auth.js';
import type { RoomStateService } from './room-state.js';
import type { EventCreator } from './event-creator.js';
import { userPowerLevel, powerLevelsFromState, requiredPowerLevel } from '../../matrix/power-levels.js';

const log = getLogger('aliases');

/**
 * The aliases an m.room.canonical_alias content adds to the previous one, each checked for syntax.
 * spec: PUT /rooms/{roomId}/state/{eventType}/{stateKey}: servers check that new aliases are valid
 * (400 M_INVALID_PARAM otherwise) and "do not validate aliases which are being removed or are
 * already present in the state event". An empty or null `alias` unsets it and adds nothing.
 */
export function addedCanonicalAliases(content: JsonObject, previous: JsonObject | undefined): string[] {
  const added: unknown[] = [];
  const alias = content.alias;
  if (alias !== undefined && alias !== null && alias !== '' && alias !== previous?.alias) added.push(alias);
  const alt = content.alt_aliases;
  if (alt !== undefined) {
    if (!Array.isArray(alt)) throw new MatrixError(400, 'M_INVALID_PARAM', 'alt_aliases must be a list');
    // A previous list of an unknown form counts as empty (as Synapse does).
    const before = new Set(Array.isArray(previous?.alt_aliases) ? previous.alt_aliases : []);
    for (const a of alt) if (!before.has(a)) added.push(a);
  }
  for (const a of added) {
    if (typeof a !== 'string' || !isValidRoomAlias(a)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid room alias ${JSON.stringify(a)}`);
  }
  return [...new Set(added as string[])];
}

/**
 * Refuses an m.room.canonical_alias content that adds an alias not pointing to the room:
 * 400 M_BAD_ALIAS (spec: PUT /rooms/{roomId}/state, m.room.canonical_alias). `previous` is the
 * content it replaces, whose aliases are not checked again.
 */
export async function checkCanonicalAliasContent(storage: Storage, roomId: string, content: JsonObject, previous: JsonObject | undefined): Promise<void> {
  for (const alias of addedCanonicalAliases(content, previous)) {
    const row = await storage.aliases.get(alias);
    if (row?.roomId !== roomId) throw new MatrixError(400, 'M_BAD_ALIAS', `Room alias ${alias} does not point to this room`);
  }
}

export class AliasService {
  constructor(
    private readonly storage: Storage,
    private readonly roomState: RoomStateService,
    private readonly serverName: string,
    /** Sends the m.room.canonical_alias update when a listed alias is deleted. */
    private readonly creator?: EventCreator,
  ) {}

  validateNewAlias(alias: string): void {
    if (!isValidRoomAlias(alias) || /\s/.test(alias)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid room alias ${alias}`);
    if (serverNameOf(alias) !== this.serverName) throw new MatrixError(400, 'M_INVALID_PARAM', 'Room alias must be on this server');
    if (Buffer.byteLength(alias) > 255) throw new MatrixError(400, 'M_INVALID_PARAM', 'Room alias is too long');
  }

  async resolve(alias: string): Promise<{ room_id: string; servers: string[] }> {
    if (!isValidRoomAlias(alias)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid room alias ${alias}`);
    const row = await this.storage.aliases.get(alias);
    if (!row) throw notFound(`Room alias ${alias} not found`);
    return { room_id: row.roomId, servers: [this.serverName] };
  }

  async create(requester: Requester, alias: string, roomId: string): Promise<void> {
    this.validateNewAlias(alias);
    if (!(await this.roomState.roomExists(roomId))) throw notFound('Room not found');
    const { membership } = await this.roomState.membership(roomId, requester.userId);
    if (membership !== 'join' && !requester.isAdmin) throw forbidden('You must be in the room to create an alias for it');
    if (!(await this.storage.aliases.insert(this.storage.db, alias, roomId, requester.userId))) {
      throw new MatrixError(409, 'M_UNKNOWN', `Room alias ${alias} already exists`);
    }
  }

  /**
   * The alias's creator, a server admin, or a member of the room allowed to send
   * m.room.canonical_alias may delete (as Synapse does).
   */
  async delete(requester: Requester, alias: string): Promise<void> {
    if (!isValidRoomAlias(alias)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid room alias ${alias}`);
    const row = await this.storage.aliases.get(alias);
    if (!row) throw notFound(`Room alias ${alias} not found`);
    if (row.creator !== requester.userId && !requester.isAdmin) {
      const { membership } = await this.roomState.membership(row.roomId, requester.userId);
      if (membership !== 'join') throw forbidden('You may not delete this alias');
      const version = await this.roomState.roomVersion(row.roomId);
      const state = await this.roomState.currentState(row.roomId, [
        stateKeyOf('m.room.create', ''),
        stateKeyOf('m.room.power_levels', ''),
      ]);
      const needed = requiredPowerLevel(powerLevelsFromState(state, version), 'm.room.canonical_alias', true);
      if (userPowerLevel(requester.userId, state, version) < needed) throw forbidden('You may not delete this alias');
    }
    if (!(await this.storage.aliases.delete(alias))) throw notFound(`Room alias ${alias} not found`);
    await this.removeFromCanonicalAlias(requester, row.roomId, alias);
  }

  /**
   * A deleted alias no longer points to the room, so it leaves the room's m.room.canonical_alias
   * (as Synapse does); when the requester may not send that event the alias stays listed there.
   */
  private async removeFromCanonicalAlias(requester: Requester, roomId: string, alias: string): Promise<void> {
    if (!this.creator) return;
    await this.creator
      .withRoom(roomId, async (w) => {
        const current = await w.stateEvent('m.room.canonical_alias', '');
        if (!current) return;
        const content: JsonObject = { ...current.content };
        let changed = false;
        if (content.alias === alias) {
          delete content.alias;
          changed = true;
        }
        if (Array.isArray(content.alt_aliases) && content.alt_aliases.includes(alias)) {
          const rest = content.alt_aliases.filter((a) => a !== alias);
          if (rest.length) content.alt_aliases = rest;
          else delete content.alt_aliases;
          changed = true;
        }
        if (changed) await w.append({ type: 'm.room.canonical_alias', state_key: '', sender: requester.userId, content });
      })
      .catch((err: unknown) => log.info('could not update the canonical alias after deleting an alias', { roomId, alias, error: (err as Error).message }));
  }

  /**
   * spec: GET /rooms/{roomId}/aliases — for members of the room (and, as Synapse allows, members
   * who left and did not forget it), server admins, or anyone when its history is world_readable.
   * An unknown room is refused like a room the user may not see.
   */
  async localAliases(requester: Requester, roomId: string): Promise<{ aliases: string[] }> {
    if (!isValidRoomId(roomId)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid room ID ${roomId}`);
    const refused = forbidden('You are not in the room, and its history is not world readable');
    if (!(await this.roomState.roomExists(roomId))) throw refused;
    // spec: servers may let their administrators see aliases regardless of membership.
    if (requester.isAdmin) return { aliases: await this.storage.aliases.forRoom(roomId) };
    const { membership, event } = await this.roomState.membership(roomId, requester.userId);
    const departed = membership === 'leave' && event !== undefined && !(await this.storage.memberships.isForgotten(requester.userId, roomId));
    if (membership !== 'join' && !departed) {
      const visibility = await this.roomState.currentStateEvent(roomId, 'm.room.history_visibility', '');
      if (visibility?.content.history_visibility !== 'world_readable') throw refused;
    }
    return { aliases: await this.storage.aliases.forRoom(roomId) };
  }

  async forRoom(roomId: string): Promise<string[]> {
    return this.storage.aliases.forRoom(roomId);
  }
}
