/**
 * Typing in /sync (spec: Client-Server API §11.x "Typing Notifications"): an m.typing event in
 * rooms.join[roomId].ephemeral for each joined room whose typing set changed since the token;
 * on an initial sync, for rooms where someone is typing. Answered from memory: no SQL.
 */
import type { StreamNotice } from '../../streams/notifier.js';
import type { TypingService } from '../typing.js';
import { passes } from './filter.js';
import { newlyJoinedRooms } from './receipts-provider.js';
import { joinedRoom, type SyncContext, type SyncProvider } from './types.js';

export class TypingProvider implements SyncProvider {
  readonly stream = 'typing' as const;

  constructor(private readonly typing: TypingService) {}

  current(): number {
    return this.typing.current();
  }

  wakes(notice: StreamNotice, ctx: SyncContext): boolean {
    return notice.stream === 'typing' && (notice.roomIds ?? []).some((r) => ctx.interestingRooms.has(r));
  }

  async fill(ctx: SyncContext): Promise<void> {
    if (!ctx.joinedRooms.length) return;
    const filter = ctx.filter.room.ephemeral;
    if (!passes(filter, { type: 'm.typing' })) return;
    const since = ctx.since?.typing;
    const rooms = new Set(this.typing.changedRooms(ctx.joinedRooms, since));
    // A room joined since the token is new to the client: tell it who is typing there already.
    if (since !== undefined) for (const r of this.typing.changedRooms(newlyJoinedRooms(ctx), undefined)) rooms.add(r);
    for (const roomId of rooms) {
      if (!passes(filter, { type: 'm.typing', room_id: roomId })) continue;
      joinedRoom(ctx, roomId).ephemeral.events.push({ type: 'm.typing', content: { user_ids: this.typing.typingIn(roomId) } });
    }
  }
}
