/**
 * The one access check every download and thumbnail passes. The media service asks a policy the
 * composition root provides, so the rule can grow (meeting recordings readable only by the members
 * of their room) without the media code knowing about rooms.
 */
import type { MediaRow } from '../../storage/media.js';

export interface MediaReader {
  /** undefined on the legacy unauthenticated routes */
  userId?: string;
  isAdmin?: boolean;
}

/** True when `reader` may read `media`. Called only for media that exist. */
export type MediaAccessPolicy = (reader: MediaReader, media: MediaRow) => Promise<boolean>;

/** What the policy needs from rooms: the requester's membership in a room. */
export type MembershipLookup = (roomId: string, userId: string) => Promise<string | undefined>;

/**
 * The default policy: unrestricted media is readable by anyone who may reach the route; media
 * restricted to a room only by that room's joined members (and server admins). Unauthenticated
 * (legacy) requests never read restricted media.
 */
export function roomMembersPolicy(membership: MembershipLookup): MediaAccessPolicy {
  return async (reader, media) => {
    if (!media.restrictedToRoom) return true;
    if (!reader.userId) return false;
    if (reader.isAdmin) return true;
    return (await membership(media.restrictedToRoom, reader.userId)) === 'join';
  };
}
