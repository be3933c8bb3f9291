/**
 * History visibility on /sync timelines (spec: Client-Server API §"Room History Visibility":
 * it applies to the timeline too), and the reader's membership at each event served
 * (unsigned.membership, spec v1.11), which the same check yields where it runs.
 */
import type { Storage } from '../../storage/index.js';
import type { StoredEvent } from '../../storage/events.js';
import type { VisibilityService } from '../rooms/visibility.js';
import { timelineMemberships, type LatestMembership } from './timeline-memberships.js';

export interface TimelineRooms {
  /** Per room, the stream position from which the user is joined (their current join). */
  joinedAt: Map<string, number>;
  /** Rooms the user was joined to after every event of the page (rule 3 may apply). */
  joinedAfterPage: Set<string>;
  /** Per room, the user's latest membership. */
  latest: Map<string, LatestMembership>;
  /** Whether the pages hold every event of their stretch (no timeline filter hid any). */
  gapless: boolean;
}

/**
 * Drops from `pages` (in place) what the user may not see, and returns the user's membership at
 * each event left, by event ID. Events after the user's current join are theirs to see; only a
 * page reaching back before that join (a room joined since the token, an initial sync) is checked,
 * so most rooms cost nothing here. `withMemberships: false` (federation-format events, which
 * carry no unsigned.membership) skips the memberships.
 */
export async function applyTimelineVisibility(
  deps: { storage: Storage; visibility?: VisibilityService },
  userId: string,
  pages: Map<string, StoredEvent[]>,
  rooms: TimelineRooms,
  withMemberships = true,
): Promise<Map<string, string>> {
  const { visibility } = deps;
  const memberships = new Map<string, string>();
  const checked = new Set<string>();
  const reachBack = visibility
    ? [...pages].filter(([roomId, page]) => {
        const since = rooms.joinedAt.get(roomId);
        return since !== undefined && page.some((e) => e.streamOrdering < since);
      })
    : [];
  if (visibility && reachBack.length) {
    // spec: a user joined after every event of the page (joined now, or until the leave that ends
    // it) may read all history that was 'shared' or 'world_readable' (rule 3), so only rooms that
    // ever had a stricter setting are checked event by event — and rooms the user may never have
    // joined (a rejected invite).
    const eligible = reachBack.map(([roomId]) => roomId).filter((r) => rooms.joinedAfterPage.has(r));
    const restricted = await deps.storage.timeline.roomsWithRestrictedHistory(eligible);
    for (const [roomId, page] of reachBack) {
      if (rooms.joinedAfterPage.has(roomId) && !restricted.has(roomId)) continue;
      const access = await visibility.roomAccess(roomId, userId);
      if (!access) continue;
      const visible = new Set((await visibility.visibleEvents(access, page, undefined, memberships)).map((e) => e.event.event_id));
      // The user's own membership events always go out (as Synapse's always_include_ids), so a
      // client learns of its leave even from a room it could not read.
      const own = (e: StoredEvent) => e.event.type === 'm.room.member' && e.event.state_key === userId;
      pages.set(roomId, page.filter((e) => visible.has(e.event.event_id) || own(e)));
      for (const e of page) if (own(e) && !memberships.has(e.event.event_id)) memberships.set(e.event.event_id, String(e.event.content.membership ?? 'leave'));
      checked.add(roomId);
    }
  }
  if (!withMemberships) return memberships;
  // The rooms not checked above: derived from the user's latest membership, no query in the
  // usual case (timeline-memberships.ts).
  const walked = [...pages]
    .filter(([roomId, page]) => page.length && !checked.has(roomId) && rooms.latest.has(roomId))
    .map(([roomId, events]) => ({ events, latest: rooms.latest.get(roomId)!, gapless: rooms.gapless }));
  return timelineMemberships(deps.storage, visibility, userId, walked, memberships);
}
