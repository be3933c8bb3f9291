/**
 * Typing notifications (spec: Client-Server API §11.x "Typing Notifications"): who is typing in
 * each room, in memory with an expiry, and a typing stream position that /sync tokens carry.
 *
 * Typing is ephemeral, so its stream is an in-memory counter rather than a Postgres sequence: a
 * restart forgets who was typing and restarts the counter (sync clamps tokens from the future).
 * With several processes one of them must own typing, as Synapse's single "typing writer"
 * instance does: the others forward PUT /typing to it and learn positions from its notices.
 */
import type { Notifier } from '../streams/notifier.js';
import { forbidden, invalidParam } from '../errors.js';
import { isValidRoomId } from '../matrix/ids.js';
import type { Requester } from './auth.js';
import type { RoomStateService } from './rooms/room-state.js';

/** As Synapse: 30 s when the client gives no timeout, at most 120 s. */
export const DEFAULT_TYPING_TIMEOUT_MS = 30_000;
export const MAX_TYPING_TIMEOUT_MS = 120_000;

interface RoomTyping {
  /** The typing position of the latest change of this room's set. */
  position: number;
  /** user → expiry timer */
  users: Map<string, { expiresAt: number; timer: NodeJS.Timeout }>;
}

export class TypingService {
  private position = 0;
  private readonly rooms = new Map<string, RoomTyping>();

  constructor(
    private readonly roomState: RoomStateService,
    private readonly notifier: Notifier,
    private readonly now: () => number = Date.now,
  ) {}

  /** The typing stream position readers may see (every change is visible at once: no writer is in flight). */
  current(): number {
    return this.position;
  }

  /** PUT /rooms/{roomId}/typing/{userId} */
  async setTyping(requester: Requester, roomId: string, userId: string, typing: boolean, timeout: number | undefined): Promise<void> {
    if (!isValidRoomId(roomId)) throw invalidParam(`Invalid room ID ${roomId}`);
    if (requester.userId !== userId) throw forbidden('Cannot set another user\'s typing state');
    const { membership } = await this.roomState.membership(roomId, userId);
    if (membership !== 'join') throw forbidden(`User ${userId} is not in room ${roomId}`);
    // Synapse pretends to shadow-banned users that their typing went out.
    if (requester.shadowBanned) return;
    if (typing) {
      const ms = Math.min(Math.max(timeout ?? DEFAULT_TYPING_TIMEOUT_MS, 0), MAX_TYPING_TIMEOUT_MS);
      this.started(roomId, userId, ms);
    } else {
      this.stopped(roomId, userId);
    }
  }

  /** Users typing in a room now. */
  typingIn(roomId: string): string[] {
    return [...(this.rooms.get(roomId)?.users.keys() ?? [])];
  }

  /** The position of the room's latest typing change (0: none since start). */
  changedAt(roomId: string): number {
    return this.rooms.get(roomId)?.position ?? 0;
  }

  /** Rooms (among `roomIds`) whose typing set changed after `since`; with no `since`, rooms where someone types. */
  changedRooms(roomIds: Iterable<string>, since: number | undefined): string[] {
    const out: string[] = [];
    if (this.rooms.size === 0) return out;
    for (const roomId of roomIds) {
      const room = this.rooms.get(roomId);
      if (!room) continue;
      if (since === undefined ? room.users.size > 0 : room.position > since) out.push(roomId);
    }
    return out;
  }

  /** Stops every timer (server shutdown). */
  close(): void {
    for (const room of this.rooms.values()) for (const u of room.users.values()) clearTimeout(u.timer);
    this.rooms.clear();
  }

  private started(roomId: string, userId: string, ms: number): void {
    let room = this.rooms.get(roomId);
    if (!room) this.rooms.set(roomId, (room = { position: 0, users: new Map() }));
    const existing = room.users.get(userId);
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => this.expire(roomId, userId), ms);
    timer.unref();
    room.users.set(userId, { expiresAt: this.now() + ms, timer });
    // Already typing: only the expiry moves, nobody needs telling.
    if (!existing) this.advance(roomId, room);
  }

  private stopped(roomId: string, userId: string): void {
    const room = this.rooms.get(roomId);
    const existing = room?.users.get(userId);
    if (!room || !existing) return;
    clearTimeout(existing.timer);
    room.users.delete(userId);
    this.advance(roomId, room);
  }

  private expire(roomId: string, userId: string): void {
    // The timer is cleared whenever the entry is replaced, so a firing timer is the current one.
    this.stopped(roomId, userId);
  }

  private advance(roomId: string, room: RoomTyping): void {
    room.position = ++this.position;
    this.notifier.notify({ stream: 'typing', position: room.position, roomIds: [roomId] });
  }
}
