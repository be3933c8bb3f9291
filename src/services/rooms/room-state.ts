/**
 * Reading room state: current state, state at an event, memberships and power levels, through
 * the immutable state groups (cached) and an event cache.
 */
import type { Storage } from '../../storage/index.js';
import type { StoredEvent } from '../../storage/events.js';
import { stateKeyOf, type RoomEvent, type StateIdMap, type StateMap } from '../../matrix/types.js';
import { getRoomVersion, type RoomVersion } from '../../matrix/room-versions.js';
import { notFound } from '../../errors.js';

export class RoomStateService {
  constructor(private readonly storage: Storage) {}

  async roomVersion(roomId: string): Promise<RoomVersion> {
    const id = await this.storage.events.roomVersion(roomId);
    if (!id) throw notFound('Room not found');
    return getRoomVersion(id)!;
  }

  async roomExists(roomId: string): Promise<boolean> {
    return (await this.storage.events.roomVersion(roomId)) !== undefined;
  }

  async currentStateIds(roomId: string): Promise<StateIdMap> {
    const head = await this.storage.events.roomHead(this.storage.db, roomId);
    if (!head) throw notFound('Room not found');
    if (head.currentStateGroup === null) return new Map();
    return this.storage.state.getGroup(head.currentStateGroup);
  }

  /** Loads the events of a state-ID map (or the subset named by keys). */
  async eventsOf(ids: StateIdMap, keys?: Iterable<string>): Promise<StateMap> {
    const wanted = new Map<string, string>();
    if (keys) {
      for (const k of keys) {
        const id = ids.get(k);
        if (id) wanted.set(k, id);
      }
    } else {
      for (const [k, id] of ids) wanted.set(k, id);
    }
    const events = await this.storage.events.getEvents(wanted.values());
    const out: StateMap = new Map();
    for (const [k, id] of wanted) {
      const e = events.get(id);
      if (e) out.set(k, e.event);
    }
    return out;
  }

  async currentState(roomId: string, keys?: Iterable<string>): Promise<StateMap> {
    return this.eventsOf(await this.currentStateIds(roomId), keys);
  }

  async currentStateEvent(roomId: string, type: string, stateKey: string): Promise<RoomEvent | undefined> {
    const ids = await this.currentStateIds(roomId);
    const id = ids.get(stateKeyOf(type, stateKey));
    if (!id) return undefined;
    return (await this.storage.events.getEvent(id))?.event;
  }

  /** State IDs before (or after) an event. */
  async stateIdsAt(stored: StoredEvent, when: 'before' | 'after'): Promise<StateIdMap> {
    const group = when === 'before' ? stored.stateGroupBefore : stored.stateGroupAfter;
    if (group === null) return new Map();
    return this.storage.state.getGroup(group);
  }

  /** A user's membership in the room's current state ('leave' when never a member). */
  async membership(roomId: string, userId: string): Promise<{ membership: string; event?: RoomEvent }> {
    const ev = await this.currentStateEvent(roomId, 'm.room.member', userId);
    if (!ev) return { membership: 'leave' };
    return { membership: String(ev.content.membership ?? 'leave'), event: ev };
  }
}
