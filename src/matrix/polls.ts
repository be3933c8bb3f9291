/**
 * Poll tallies (MSC3381, stable m.poll.* and unstable org.matrix.msc3381.poll.* forms): each
 * voter's latest valid response sent before the poll ended counts; responses after the end do
 * not; a response with no known answer is a spoilt vote that withdraws the voter's earlier choice.
 */
import type { JsonObject, RoomEvent } from './types.js';

export const POLL_START_TYPES = new Set(['m.poll.start', 'org.matrix.msc3381.poll.start']);
export const POLL_RESPONSE_TYPES = new Set(['m.poll.response', 'org.matrix.msc3381.poll.response']);
export const POLL_END_TYPES = new Set(['m.poll.end', 'org.matrix.msc3381.poll.end']);

export interface PollDefinition {
  answerIds: string[];
  maxSelections: number;
}

export interface PollTally {
  answers: Record<string, number>;
  voters: number;
  ended: boolean;
  end_event_id?: string;
}

function obj(v: unknown): JsonObject | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : undefined;
}

export function pollDefinition(start: RoomEvent): PollDefinition | undefined {
  const body = obj(start.content['m.poll']) ?? obj(start.content['org.matrix.msc3381.poll.start']);
  if (!body) return undefined;
  const answers = Array.isArray(body.answers) ? body.answers : [];
  const answerIds = answers.map((a) => obj(a)?.id).filter((id): id is string => typeof id === 'string');
  const max = typeof body.max_selections === 'number' && body.max_selections >= 1 ? Math.floor(body.max_selections) : 1;
  return { answerIds, maxSelections: max };
}

function selections(response: RoomEvent): unknown[] | undefined {
  const stable = response.content['m.selections'];
  if (Array.isArray(stable)) return stable;
  const unstable = obj(response.content['org.matrix.msc3381.poll.response'])?.answers;
  return Array.isArray(unstable) ? unstable : undefined;
}

/**
 * Tallies a poll from its related events (any order). `canEnd` says whether a user may end the
 * poll (its creator, or someone with redact power — MSC3381).
 */
export function tallyPoll(start: RoomEvent, related: RoomEvent[], canEnd: (userId: string) => boolean): PollTally | undefined {
  const def = pollDefinition(start);
  if (!def) return undefined;
  const byTime = [...related].sort((a, b) => a.origin_server_ts - b.origin_server_ts || (a.event_id < b.event_id ? -1 : 1));
  const end = byTime.find((e) => POLL_END_TYPES.has(e.type) && (e.sender === start.sender || canEnd(e.sender)));
  const latest = new Map<string, string[]>();
  for (const e of byTime) {
    if (!POLL_RESPONSE_TYPES.has(e.type)) continue;
    if (end && e.origin_server_ts > end.origin_server_ts) continue;
    const chosen = selections(e);
    if (!chosen) continue;
    // Unknown answers are dropped; beyond max_selections only the first ones count.
    const valid = [...new Set(chosen.filter((a): a is string => typeof a === 'string' && def.answerIds.includes(a)))].slice(0, def.maxSelections);
    latest.set(e.sender, valid);
  }
  const answers: Record<string, number> = Object.fromEntries(def.answerIds.map((id) => [id, 0]));
  let voters = 0;
  for (const chosen of latest.values()) {
    if (!chosen.length) continue;
    voters++;
    for (const a of chosen) answers[a] = (answers[a] ?? 0) + 1;
  }
  const tally: PollTally = { answers, voters, ended: !!end };
  if (end) tally.end_event_id = end.event_id;
  return tally;
}
