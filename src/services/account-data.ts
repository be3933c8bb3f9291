/**
 * Account data (spec: Client-Server API §10.x "Client Config"): global and per-room, each change
 * taking the next position of the account_data stream so /sync can deliver it.
 */
import type { Storage } from '../storage/index.js';
import type { JsonObject } from '../matrix/types.js';
import type { StreamIdGenerator } from '../streams/id-generator.js';
import type { Notifier } from '../streams/notifier.js';
import type { Requester } from './auth.js';
import { MatrixError, forbidden, notFound } from '../errors.js';

/** Types the server manages itself; clients must use their dedicated endpoints. */
const SERVER_MANAGED = new Set(['m.fully_read', 'm.push_rules']);
const MAX_TYPE_BYTES = 255;

export class AccountDataService {
  constructor(
    private readonly storage: Storage,
    private readonly positions: StreamIdGenerator,
    private readonly notifier: Notifier,
  ) {}

  private checkOwner(requester: Requester, userId: string): void {
    if (requester.userId !== userId) throw forbidden('Cannot access account data of other users');
  }

  async get(requester: Requester, userId: string, roomId: string, type: string): Promise<JsonObject> {
    this.checkOwner(requester, userId);
    const content = await this.storage.accountData.get(userId, roomId, type);
    if (!content) throw notFound('Account data not found');
    return content;
  }

  async put(requester: Requester, userId: string, roomId: string, type: string, content: JsonObject): Promise<void> {
    this.checkOwner(requester, userId);
    // spec: Client-Server API §"Size limits" — an event type is at most 255 bytes; account data types are no longer.
    if (Buffer.byteLength(type, 'utf8') > MAX_TYPE_BYTES) throw new MatrixError(400, 'M_INVALID_PARAM', `Account data type is longer than ${MAX_TYPE_BYTES} bytes`);
    if (SERVER_MANAGED.has(type)) {
      // spec: m.fully_read and m.push_rules are set through read markers and push rules.
      throw new MatrixError(405, 'M_BAD_JSON', `Cannot set ${type} through this API.`);
    }
    await this.write(userId, roomId, type, content);
  }

  /** Server-side writes (push rules, read markers, tags) come through here too. */
  async write(userId: string, roomId: string, type: string, content: JsonObject): Promise<number> {
    const pending = await this.positions.next();
    try {
      await this.storage.db.transaction((tx) => this.storage.accountData.put(tx, userId, roomId, type, content, pending.position));
    } finally {
      pending.done();
    }
    this.notifier.notify({ stream: 'account_data', position: pending.position, userIds: [userId] });
    return pending.position;
  }
}
