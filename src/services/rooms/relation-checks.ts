/**
 * What a new event's relation (content `m.relates_to`) must satisfy before it is sent (spec:
 * Client-Server API "Relationships"; the checks and answers are Synapse's, which clients such as
 * Element and bots rely on):
 * - the related event is in the same room, or unknown here but already the target of relations
 *   (a client cannot otherwise know of it);
 * - an annotation has a key of at most 500 characters, and a sender annotates an event with one
 *   key once: 400 M_DUPLICATE_ANNOTATION (spec: "Reactions", "Servers SHOULD reject duplicate
 *   reactions");
 * - a thread does not start from an event that itself has a relation (spec: "Threading").
 */
import type { Storage } from '../../storage/index.js';
import type { JsonObject } from '../../matrix/types.js';
import { MatrixError } from '../../errors.js';

const MAX_ANNOTATION_KEY_LENGTH = 500;

export interface Relation {
  relType: string;
  parentId: string;
  /** The annotation key, for m.annotation. */
  key?: unknown;
}

/** spec: "Relationships": a relation needs a string rel_type and event_id; anything else is no relation. */
export function relationOf(content: JsonObject): Relation | undefined {
  const rel = content['m.relates_to'];
  if (!rel || typeof rel !== 'object' || Array.isArray(rel)) return undefined;
  const { rel_type: relType, event_id: parentId, key } = rel as JsonObject;
  if (typeof relType !== 'string' || typeof parentId !== 'string') return undefined;
  return { relType, parentId, key };
}

/** The checks that need no room writer: the parent's room, the key, the thread root. */
export async function checkRelation(storage: Storage, roomId: string, relation: Relation): Promise<void> {
  const parent = await storage.events.getEvent(relation.parentId);
  if (parent) {
    if (parent.event.room_id !== roomId) throw new MatrixError(400, 'M_UNKNOWN', 'Relations must be in the same room');
  } else if (!(await storage.relations.isRelationTarget(relation.parentId))) {
    throw new MatrixError(400, 'M_UNKNOWN', "Can't send relation to unknown event");
  }
  if (relation.relType === 'm.annotation') {
    if (typeof relation.key !== 'string') throw new MatrixError(400, 'M_INVALID_PARAM', 'An annotation needs a key');
    if ([...relation.key].length > MAX_ANNOTATION_KEY_LENGTH) throw new MatrixError(400, 'M_INVALID_PARAM', 'Aggregation key is too long');
  }
  if (relation.relType === 'm.thread' && parent && relationOf(parent.event.content)) {
    throw new MatrixError(400, 'M_UNKNOWN', 'Cannot start threads from an event with a relation');
  }
}

/**
 * The duplicate-annotation check; run it as the room's writer, so that two identical reactions
 * sent at once cannot both pass.
 */
export async function checkNotAnnotatedYet(storage: Storage, sender: string, type: string, relation: Relation): Promise<void> {
  if (relation.relType !== 'm.annotation' || typeof relation.key !== 'string') return;
  if (await storage.relations.hasAnnotated(relation.parentId, sender, type, relation.key)) {
    throw new MatrixError(400, 'M_DUPLICATE_ANNOTATION', "Can't send same reaction twice");
  }
}
