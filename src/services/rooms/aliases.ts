/**
 * Room aliases (spec: Client-Server API §10.x "Room aliases"): create, resolve, delete, list.
 * Only local aliases can be created here; resolving remote ones comes with federation.
 */
import type { Storage } from '../../storage/index.js';
import { isValidRoomAlias, serverNameOf } from '../../matrix/ids.js';
import { MatrixError, forbidden, notFound } from '../../errors.js';
import type { Requester } from '../auth.js';
import type { RoomStateService } from './room-state.js';
import { userPowerLevel, powerLevelsFromState, requiredPowerLevel } from '../../matrix/power-levels.js';

export class AliasService {
  constructor(
    private readonly storage: Storage,
    private readonly roomState: RoomStateService,
    private readonly serverName: string,
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

  /** The alias's creator, a server admin, or a room member allowed to change canonical_alias may delete. */
  async delete(requester: Requester, alias: string): Promise<void> {
    if (!isValidRoomAlias(alias)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid room alias ${alias}`);
    const row = await this.storage.aliases.get(alias);
    if (!row) throw notFound(`Room alias ${alias} not found`);
    if (row.creator !== requester.userId && !requester.isAdmin) {
      const version = await this.roomState.roomVersion(row.roomId);
      const state = await this.roomState.currentState(row.roomId, [
        'm.room.create\u0000',
        'm.room.power_levels\u0000',
      ]);
      const needed = requiredPowerLevel(powerLevelsFromState(state, version), 'm.room.canonical_alias', true);
      if (userPowerLevel(requester.userId, state, version) < needed) throw forbidden('You may not delete this alias');
    }
    await this.storage.aliases.delete(alias);
  }

  async forRoom(roomId: string): Promise<string[]> {
    return this.storage.aliases.forRoom(roomId);
  }
}
