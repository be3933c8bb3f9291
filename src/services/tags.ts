/**
 * Room tagging (spec: Client-Server API §"Room Tagging"): a user's tags on a room are the room
 * account data m.tag, `{tags: {name: {order?}}}`, so every change reaches the user's other devices
 * through /sync like any account data. Favourites (m.favourite), low priority (m.lowpriority) and
 * user folders (u.*) are what the product calls pinned chats, archives and folders.
 */
import type { Storage } from '../storage/index.js';
import { dictionary, type JsonObject } from '../matrix/types.js';
import { isValidRoomId } from '../matrix/ids.js';
import { MatrixError, forbidden } from '../errors.js';
import type { Requester } from './auth.js';
import type { AccountDataService } from './account-data.js';
import { KeyedQueue } from './keyed-queue.js';

const TAG_TYPE = 'm.tag';
/** A tag name is capped like an event type (spec: §"Size limits", 255 bytes), so m.tag stays small. */
const MAX_TAG_BYTES = 255;

type Tags = Record<string, JsonObject>;

function tagsOf(content: JsonObject | undefined): Tags {
  const tags = content?.tags;
  if (!tags || typeof tags !== 'object' || Array.isArray(tags)) return dictionary();
  // No prototype: a tag named "__proto__" is then a key like any other, not a prototype to set
  // (which would drop the tag from what is stored and served).
  const out: Tags = dictionary();
  for (const [name, value] of Object.entries(tags as JsonObject)) {
    out[name] = value && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : {};
  }
  return out;
}

export class TagService {
  /** Changes of one user's tags on one room run one after another: each rewrites the whole m.tag. */
  private readonly queues = new KeyedQueue();

  constructor(
    private readonly storage: Storage,
    private readonly accountData: AccountDataService,
  ) {}

  private check(requester: Requester, userId: string, roomId: string): void {
    if (requester.userId !== userId) throw forbidden('Cannot access the tags of other users');
    if (!isValidRoomId(roomId)) throw new MatrixError(400, 'M_INVALID_PARAM', `'${roomId}' is not a valid room ID`);
  }

  private serialised<T>(key: string, work: () => Promise<T>): Promise<T> {
    return this.queues.run(key, work);
  }

  async list(requester: Requester, userId: string, roomId: string): Promise<{ tags: Tags }> {
    this.check(requester, userId, roomId);
    return { tags: tagsOf(await this.storage.accountData.get(userId, roomId, TAG_TYPE)) };
  }

  async add(requester: Requester, userId: string, roomId: string, tag: string, body: JsonObject): Promise<void> {
    this.check(requester, userId, roomId);
    if (!tag) throw new MatrixError(400, 'M_INVALID_PARAM', 'The tag name is empty');
    if (Buffer.byteLength(tag, 'utf8') > MAX_TAG_BYTES) throw new MatrixError(400, 'M_INVALID_PARAM', `The tag name is longer than ${MAX_TAG_BYTES} bytes`);
    if (body.order !== undefined && (typeof body.order !== 'number' || !Number.isFinite(body.order) || body.order < 0 || body.order > 1)) {
      // spec: order is "a number in a range [0,1]".
      throw new MatrixError(400, 'M_INVALID_PARAM', "'order' must be a number between 0 and 1");
    }
    await this.serialised(`${userId}\u0000${roomId}`, async () => {
      const tags = tagsOf(await this.storage.accountData.get(userId, roomId, TAG_TYPE));
      tags[tag] = body;
      await this.accountData.write(userId, roomId, TAG_TYPE, { tags });
    });
  }

  /** Removing a tag the room does not have is not an error (as Synapse). */
  async remove(requester: Requester, userId: string, roomId: string, tag: string): Promise<void> {
    this.check(requester, userId, roomId);
    await this.serialised(`${userId}\u0000${roomId}`, async () => {
      const content = await this.storage.accountData.get(userId, roomId, TAG_TYPE);
      const tags = tagsOf(content);
      if (!(tag in tags)) return;
      delete tags[tag];
      await this.accountData.write(userId, roomId, TAG_TYPE, { tags });
    });
  }
}
