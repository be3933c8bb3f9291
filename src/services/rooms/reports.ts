/**
 * Reporting content (spec: Client-Server API "Reporting content"): reports of events and of rooms
 * are stored in event_reports for the server admins (Synapse's admin API lists them).
 */
import type { ReportStore } from '../../storage/reports.js';
import type { StoredEvent } from '../../storage/events.js';
import type { Storage } from '../../storage/index.js';
import { stateKeyOf, type JsonObject } from '../../matrix/types.js';
import { isValidRoomId } from '../../matrix/ids.js';
import { MatrixError, notFound } from '../../errors.js';
import type { Requester } from '../auth.js';
import type { RoomStateService } from './room-state.js';

export class ReportService {
  constructor(
    private readonly storage: Storage,
    private readonly reports: ReportStore,
    private readonly roomState: RoomStateService,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * POST /rooms/{roomId}/report/{eventId}. spec: the caller must be in the room; an event that does
   * not exist, or that the caller cannot see, is 404 alike so reports cannot probe for events.
   */
  async reportEvent(requester: Requester, roomId: string, eventId: string, body: JsonObject): Promise<void> {
    if (!isValidRoomId(roomId)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid room ID ${roomId}`);
    const reason = body.reason;
    if (reason !== undefined && reason !== null && typeof reason !== 'string') throw new MatrixError(400, 'M_BAD_JSON', "Param 'reason' must be a string");
    // `score` was removed from the spec in v1.18; older clients still send it (-100..0 in v1.17).
    // Synapse accepts any integer, and so does Veche, within canonical JSON's range.
    const score = body.score;
    if (score !== undefined && !(typeof score === 'number' && Number.isSafeInteger(score))) {
      throw new MatrixError(400, 'M_BAD_JSON', "Param 'score' must be an integer");
    }
    const hidden = notFound('Unable to report event: it does not exist or you aren\'t able to see it.');
    const stored = await this.storage.events.getEvent(eventId);
    if (!stored || stored.event.room_id !== roomId || stored.rejected || stored.outlier) throw hidden;
    if (!(await this.canSee(requester.userId, stored))) throw hidden;
    await this.reports.insert({
      roomId,
      eventId,
      userId: requester.userId,
      reason: typeof reason === 'string' ? reason : undefined,
      score: typeof score === 'number' ? score : undefined,
      content: body,
      receivedTs: this.now(),
    });
  }

  /** POST /rooms/{roomId}/report (spec v1.13): the caller need not be in the room; an unknown room is 404. */
  async reportRoom(requester: Requester, roomId: string, body: JsonObject): Promise<void> {
    if (!isValidRoomId(roomId)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid room ID ${roomId}`);
    if (!(await this.roomState.roomExists(roomId))) throw notFound('The room was not found.');
    await this.reports.insert({
      roomId,
      userId: requester.userId,
      reason: typeof body.reason === 'string' ? body.reason : undefined,
      content: body,
      receivedTs: this.now(),
    });
  }

  /**
   * spec: Client-Server API "History visibility", applied to one event: world_readable, or the user
   * was joined when it was sent, or shared history with the user joined now, or invited history
   * with the user invited (or joined) when it was sent. The user's own membership events count as
   * seen.
   */
  private async canSee(userId: string, stored: StoredEvent): Promise<boolean> {
    const event = stored.event;
    if (event.type === 'm.room.member' && event.state_key === userId) return true;
    const ids = await this.roomState.stateIdsAt(stored, 'before');
    const memberKey = stateKeyOf('m.room.member', userId);
    const visibilityKey = stateKeyOf('m.room.history_visibility', '');
    const state = await this.roomState.eventsOf(ids, [memberKey, visibilityKey]);
    const visibility = String(state.get(visibilityKey)?.content.history_visibility ?? 'shared');
    const membershipThen = state.get(memberKey)?.content.membership;
    if (visibility === 'world_readable' || membershipThen === 'join') return true;
    if (visibility === 'invited' && membershipThen === 'invite') return true;
    // Shared history is open to whoever is in the room now.
    if (visibility === 'shared') return (await this.roomState.membership(event.room_id, userId)).membership === 'join';
    return false;
  }
}
