/**
 * unsigned.membership on the timelines of /sync and sliding sync (spec v1.11, ClientEvent: "The
 * room membership of the user making the request, at the time of the event"; MSC4115).
 *
 * /messages reads it from the state before each event, in VisibilityService.visibleEvents, and so
 * do these timelines wherever they run that check. /sync skips the check for most pages (see
 * timeline-visibility.ts), and runs on every poll, so there the same answer is derived from what
 * it already holds — the user's latest membership and the page itself:
 *  - events after the user's latest member event: the membership that event set;
 *  - events before it: walked back through the user's own member events in the page, each of which
 *    names the membership it replaced (unsigned.prev_content, copied from the state before it);
 *  - what the walk cannot settle is read from the state, as /messages does: a page with gaps (a
 *    timeline filter hid events), a chain of member events that does not link up, and a remote
 *    event after the member event that cannot descend from it (its depth is not greater). That
 *    last one is MSC4115's own case: a message sent concurrently with the join, whose sender's
 *    devices did not share its keys with the joiner.
 * A gapless page of a room on this server alone costs no query.
 */
import type { Storage } from '../../storage/index.js';
import type { StoredEvent } from '../../storage/events.js';
import type { JsonObject } from '../../matrix/types.js';
import { serverNameOf } from '../../matrix/ids.js';
import type { VisibilityService } from '../rooms/visibility.js';

/** The user's latest membership in a room, as of the sync's upper bound. */
export interface LatestMembership {
  eventId: string;
  membership: string;
  stream: number;
}

export interface TimelinePage {
  /** Oldest first, in stream order. */
  events: StoredEvent[];
  latest: LatestMembership;
  /** Whether the page holds every event of its stretch (no timeline filter hid any). */
  gapless: boolean;
}

export interface WalkResult {
  memberships: Map<string, string>;
  /** Events whose membership only the state before them tells. */
  fromState: StoredEvent[];
  /** Remote events after the latest member event: settled once that event's depth is known. */
  remoteAfter: StoredEvent[];
  /** The latest member event, when the walk met it. */
  latestEvent?: StoredEvent;
}

function ownMembership(e: StoredEvent, userId: string): string | undefined {
  const ev = e.event;
  if (ev.type !== 'm.room.member' || ev.state_key !== userId) return undefined;
  return typeof ev.content.membership === 'string' ? ev.content.membership : 'leave';
}

/** What the page alone tells (no I/O). */
export function walkMemberships(userId: string, page: TimelinePage): WalkResult {
  const { events, latest } = page;
  const out: WalkResult = { memberships: new Map(), fromState: [], remoteAfter: [] };
  const home = serverNameOf(userId);
  let i = events.length - 1;
  for (; i >= 0 && events[i]!.streamOrdering > latest.stream; i--) {
    const e = events[i]!;
    out.memberships.set(e.event.event_id, latest.membership);
    if (serverNameOf(e.event.sender) !== home) out.remoteAfter.push(e);
  }
  // The own member event the walk must meet next (null: the user had none before), and the
  // membership in force between it and the one after.
  let expected: string | null = latest.eventId;
  let running: string | undefined;
  for (; i >= 0; i--) {
    const e = events[i]!;
    const own = ownMembership(e, userId);
    if (own !== undefined && e.event.event_id === expected) {
      out.memberships.set(e.event.event_id, own);
      if (expected === latest.eventId) out.latestEvent = e;
      const replaced = e.unsigned?.replaces_state;
      const previous = (e.unsigned?.prev_content as JsonObject | undefined)?.membership;
      expected = typeof replaced === 'string' ? replaced : null;
      running = typeof replaced !== 'string' ? 'leave' : typeof previous === 'string' ? previous : undefined;
      continue;
    }
    if (running === undefined || own !== undefined || !page.gapless) {
      out.fromState.push(...events.slice(0, i + 1));
      break;
    }
    out.memberships.set(e.event.event_id, running);
  }
  return out;
}

/**
 * The user's membership at each event of the pages, added to `into` (which may already hold
 * what a visibility check found for other pages).
 */
export async function timelineMemberships(
  storage: Storage,
  visibility: VisibilityService | undefined,
  userId: string,
  pages: TimelinePage[],
  into: Map<string, string> = new Map(),
): Promise<Map<string, string>> {
  const walks = pages.map((page) => ({ page, walk: walkMemberships(userId, page) }));
  const fromState: StoredEvent[] = [];
  for (const { walk } of walks) {
    for (const [id, m] of walk.memberships) into.set(id, m);
    fromState.push(...walk.fromState);
  }
  // Depth settles whether a remote event may descend from the member event; load that event only
  // for pages that need it (federated rooms with news from elsewhere), all at once.
  const unknownDepth = walks.filter(({ walk }) => walk.remoteAfter.length && !walk.latestEvent).map(({ page }) => page.latest.eventId);
  const loaded = unknownDepth.length ? await storage.events.getEvents(unknownDepth) : new Map<string, StoredEvent>();
  for (const { page, walk } of walks) {
    const member = walk.latestEvent ?? loaded.get(page.latest.eventId);
    for (const e of walk.remoteAfter) if (!member || e.topologicalOrdering <= member.topologicalOrdering) fromState.push(e);
  }
  if (fromState.length && visibility) for (const [id, m] of await visibility.membershipsAt(userId, fromState)) into.set(id, m);
  return into;
}

/**
 * A client event without unsigned.membership: state is served without it (as Synapse: the /sync
 * state block, state_after and sliding sync's required_state), even an event that the timeline
 * carries with it.
 */
export function withoutMembership(ev: JsonObject): JsonObject {
  const unsigned = ev.unsigned as JsonObject | undefined;
  if (!unsigned || unsigned.membership === undefined) return ev;
  const rest: JsonObject = { ...unsigned };
  delete rest.membership;
  return { ...ev, unsigned: rest };
}
