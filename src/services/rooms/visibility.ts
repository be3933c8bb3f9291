/**
 * Room history visibility (spec: Client-Server API §"Room History Visibility", "Server
 * behaviour"): which events of a room a user may read. The rule itself is a pure function over
 * the state at the event; VisibilityService fetches that state for a batch of events, one state
 * snapshot per distinct state group (consecutive messages share one), so a page of events costs a
 * bounded number of lookups.
 */
import type { Storage } from '../../storage/index.js';
import type { StoredEvent } from '../../storage/events.js';
import { stateKeyOf, type StateIdMap } from '../../matrix/types.js';
import { forbidden } from '../../errors.js';
import type { RoomStateService } from './room-state.js';
import { comparePositions, type TimelinePosition } from './pagination-token.js';

export type HistoryVisibility = 'world_readable' | 'shared' | 'invited' | 'joined';

const KNOWN: readonly string[] = ['world_readable', 'shared', 'invited', 'joined'];

/** spec: "if no history_visibility is set, or if the value is not understood, … shared". */
export function historyVisibilityOf(content: Record<string, unknown> | undefined): HistoryVisibility {
  const value = content?.history_visibility;
  return typeof value === 'string' && KNOWN.includes(value) ? (value as HistoryVisibility) : 'shared';
}

/** The facts about one event and one user that the spec's rule reads. */
export interface VisibilityFacts {
  /** history_visibility in the state at (before) the event. */
  visibility: HistoryVisibility;
  /** The user's membership in the state at (before) the event; undefined if none. */
  membership: string | undefined;
  /** Whether the user was joined to the room at some point after the event was sent. */
  joinedAfter: boolean;
  /** For m.room.history_visibility events: the visibility the event sets. */
  visibilityAfter?: HistoryVisibility;
  /** For the user's own m.room.member events: the membership the event sets. */
  membershipAfter?: string;
}

/** spec: the five numbered rules of "Server behaviour". */
export function allowedBy(visibility: HistoryVisibility, membership: string | undefined, joinedAfter: boolean): boolean {
  if (visibility === 'world_readable') return true; // 1
  if (membership === 'join') return true; // 2
  if (visibility === 'shared' && joinedAfter) return true; // 3
  if (membership === 'invite' && visibility === 'invited') return true; // 4
  return false; // 5
}

/**
 * Whether the user may see the event. spec: history visibility events are visible if the
 * visibility before *or* after them allows it; the user's own membership events likewise with
 * their membership before or after.
 */
export function isEventVisible(f: VisibilityFacts): boolean {
  if (allowedBy(f.visibility, f.membership, f.joinedAfter)) return true;
  if (f.visibilityAfter !== undefined && allowedBy(f.visibilityAfter, f.membership, f.joinedAfter)) return true;
  if (f.membershipAfter !== undefined && allowedBy(f.visibility, f.membershipAfter, f.joinedAfter)) return true;
  return false;
}

/**
 * The end of the user's latest period of being joined: 'now' while joined, the position of the
 * event that ended it, or null if the user never joined.
 */
export type JoinedUntil = TimelinePosition | 'now' | null;

/** spec rule 3's "the user joined the room at any point after the event was sent". */
export function joinedAfter(event: TimelinePosition, until: JoinedUntil): boolean {
  if (until === null) return false;
  if (until === 'now') return true;
  return comparePositions(event, until) < 0;
}

export function positionOf(e: StoredEvent): TimelinePosition {
  return { topo: e.topologicalOrdering, stream: e.streamOrdering };
}

/** What a read path needs to know about a user and a room, from the current state. */
export interface RoomAccess {
  roomId: string;
  userId: string;
  /** The user's current membership ('leave' if none). */
  membership: string;
  /** The user's current m.room.member event. */
  memberEvent?: StoredEvent;
  joinedUntil: JoinedUntil;
  /** The room's current history visibility. */
  visibility: HistoryVisibility;
  /**
   * Set for a user who has left (or was banned) and reads as a former member: state is read as of
   * this event (spec: GET /state "the state of the room when they left").
   */
  departedAt?: StoredEvent;
  /**
   * Where a former member's timeline reads stop (spec: "no events received after they left");
   * unset in a world_readable room, which anyone may read.
   */
  timelineEnd?: StoredEvent;
  /**
   * A former member who forgot the room. spec: POST /rooms/{roomId}/forget: "a user will no longer
   * be able to retrieve history for this room", so they read it as someone who never joined.
   */
  forgotten?: boolean;
}

const HISTORY_VISIBILITY_KEY = stateKeyOf('m.room.history_visibility', '');
const MEMBERSHIP_HISTORY_LIMIT = 50;

export class VisibilityService {
  constructor(
    private readonly storage: Storage,
    private readonly roomState: RoomStateService,
  ) {}

  /** The user's standing in the room as of its current state. */
  async roomAccess(roomId: string, userId: string): Promise<RoomAccess | undefined> {
    if (!(await this.roomState.roomExists(roomId))) return undefined;
    const ids = await this.roomState.currentStateIds(roomId);
    const memberId = ids.get(stateKeyOf('m.room.member', userId));
    const hvId = ids.get(HISTORY_VISIBILITY_KEY);
    const loaded = await this.storage.events.getEvents([memberId, hvId].filter((x): x is string => !!x));
    const memberEvent = memberId ? loaded.get(memberId) : undefined;
    const visibility = historyVisibilityOf(hvId ? loaded.get(hvId)?.event.content : undefined);
    const membership = String(memberEvent?.event.content.membership ?? 'leave');
    const joinedUntil = await this.joinedUntil(memberEvent);
    // Only a departed member can have forgotten the room (forget needs leave or ban).
    if (joinedUntil !== null && joinedUntil !== 'now' && (await this.storage.memberships.isForgotten(userId, roomId))) {
      return { roomId, userId, membership, memberEvent, visibility, joinedUntil: null, forgotten: true };
    }
    return { roomId, userId, membership, memberEvent, visibility, joinedUntil };
  }

  /**
   * The access check of the read endpoints: members read the room; former members read it up to
   * their departure (when `allowDeparted`); anyone reads a world_readable room. Others get
   * 403 M_FORBIDDEN.
   */
  async requireAccess(roomId: string, userId: string, options: { allowDeparted: boolean }): Promise<RoomAccess> {
    const access = await this.roomAccess(roomId, userId);
    if (!access) throw forbidden(`You aren't a member of the room ${roomId}`);
    if (access.membership === 'join') return access;
    // joinedUntil is null for one who never joined, and for one who forgot the room.
    const departed = (access.membership === 'leave' || access.membership === 'ban') && access.joinedUntil !== null;
    if (options.allowDeparted && departed) {
      // A world_readable room is open to everyone anyway: its timeline need not stop at the departure.
      const timelineEnd = access.visibility === 'world_readable' ? undefined : access.memberEvent;
      return { ...access, departedAt: access.memberEvent, timelineEnd };
    }
    if (access.visibility === 'world_readable') return access;
    throw forbidden(`You aren't a member of the room ${roomId}`);
  }

  /** Walks the user's membership events back (replaces_state) to the end of their last join. */
  private async joinedUntil(memberEvent: StoredEvent | undefined): Promise<JoinedUntil> {
    let current = memberEvent;
    for (let i = 0; current && i < MEMBERSHIP_HISTORY_LIMIT; i++) {
      if (current.event.content.membership === 'join') return i === 0 ? 'now' : null;
      const previousId = current.unsigned?.replaces_state;
      if (typeof previousId !== 'string') return null;
      const previous = await this.storage.events.getEvent(previousId);
      if (!previous) return null;
      if (previous.event.content.membership === 'join') return positionOf(current);
      current = previous;
    }
    return null;
  }

  /** The state (IDs) before each event, one lookup per distinct state group. */
  async stateBefore(events: StoredEvent[]): Promise<Map<number, StateIdMap>> {
    const groups = new Map<number, StateIdMap>();
    for (const e of events) {
      const g = e.stateGroupBefore;
      if (g !== null && !groups.has(g)) groups.set(g, await this.storage.state.getGroup(g));
    }
    return groups;
  }

  /**
   * The events the user may see, keeping `events`' order. When `memberships` is given it receives,
   * for each visible event, the user's membership at it (spec: ClientEvent unsigned.membership:
   * "including any changes caused by the event", 'leave' when the user had none).
   */
  async visibleEvents(
    access: RoomAccess,
    events: StoredEvent[],
    stateBefore?: Map<number, StateIdMap>,
    memberships?: Map<string, string>,
  ): Promise<StoredEvent[]> {
    if (!events.length) return [];
    const groups = stateBefore ?? (await this.stateBefore(events));
    const memberKey = stateKeyOf('m.room.member', access.userId);
    const wanted = new Set<string>();
    for (const ids of groups.values()) {
      const hv = ids.get(HISTORY_VISIBILITY_KEY);
      const member = ids.get(memberKey);
      if (hv) wanted.add(hv);
      if (member) wanted.add(member);
    }
    const loaded = await this.storage.events.getEvents(wanted);
    const factsOfGroup = new Map<number | null, { visibility: HistoryVisibility; membership: string | undefined }>();
    const baseFacts = (group: number | null) => {
      let f = factsOfGroup.get(group);
      if (!f) {
        const ids = group === null ? undefined : groups.get(group);
        const hv = ids?.get(HISTORY_VISIBILITY_KEY);
        const member = ids?.get(memberKey);
        const m = member ? loaded.get(member)?.event.content.membership : undefined;
        f = {
          visibility: historyVisibilityOf(hv ? loaded.get(hv)?.event.content : undefined),
          membership: typeof m === 'string' ? m : undefined,
        };
        factsOfGroup.set(group, f);
      }
      return f;
    };
    return events.filter((e) => {
      const base = baseFacts(e.stateGroupBefore);
      const ev = e.event;
      const facts: VisibilityFacts = { ...base, joinedAfter: joinedAfter(positionOf(e), access.joinedUntil) };
      if (ev.type === 'm.room.history_visibility' && ev.state_key === '') facts.visibilityAfter = historyVisibilityOf(ev.content);
      if (ev.type === 'm.room.member' && ev.state_key === access.userId && typeof ev.content.membership === 'string') {
        facts.membershipAfter = ev.content.membership;
      }
      const membershipAt = facts.membershipAfter ?? facts.membership ?? 'leave';
      // A user who forgot the room reads it like one who never was in it: world_readable only.
      if (access.forgotten) {
        facts.membership = undefined;
        delete facts.membershipAfter;
      }
      const visible = isEventVisible(facts);
      if (visible) memberships?.set(ev.event_id, membershipAt);
      return visible;
    });
  }

  /**
   * The user's membership at each event, read as visibleEvents reads it (the state before the
   * event, or the event itself for the user's own member events; 'leave' when none), whether or
   * not the user may see the event: for /sync, which has already chosen the events it serves.
   * Events of any rooms; one lookup per distinct state group.
   */
  async membershipsAt(userId: string, events: StoredEvent[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const memberKey = stateKeyOf('m.room.member', userId);
    const fromState: StoredEvent[] = [];
    for (const e of events) {
      const ev = e.event;
      if (ev.type === 'm.room.member' && ev.state_key === userId && typeof ev.content.membership === 'string') out.set(ev.event_id, ev.content.membership);
      else fromState.push(e);
    }
    if (!fromState.length) return out;
    const groups = await this.stateBefore(fromState);
    const memberOf = (e: StoredEvent) => (e.stateGroupBefore === null ? undefined : groups.get(e.stateGroupBefore)?.get(memberKey));
    const loaded = await this.storage.events.getEvents(new Set(fromState.map(memberOf).filter((id): id is string => !!id)));
    for (const e of fromState) {
      const id = memberOf(e);
      const m = id ? loaded.get(id)?.event.content.membership : undefined;
      out.set(e.event.event_id, typeof m === 'string' ? m : 'leave');
    }
    return out;
  }

  /** Whether one event is visible to the user. */
  async isVisible(access: RoomAccess, event: StoredEvent): Promise<boolean> {
    return (await this.visibleEvents(access, [event])).length === 1;
  }
}
