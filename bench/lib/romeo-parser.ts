/**
 * The "Romeo and Juliet" workload's parser (shared/bench-data/README.md): the play's text becomes
 * a list of (speaker, line) messages, so Veche runs exactly the workload other homeservers'
 * published figures come from.
 */

export const STAGE_DIRECTION = 'STAGE DIRECTION';
export const ACTS = 'ACTS';

export interface PlayLine {
  speaker: string;
  body: string;
}

/**
 * Rules, in order:
 * - an empty or all-blank line sets the speaker back to STAGE DIRECTION;
 * - a line beginning with a space is spoken, trimmed, by the current speaker;
 * - a line beginning with "ACT" is sent, trimmed, by ACTS;
 * - any other line names a new current speaker (trimmed), and the line after it is skipped.
 */
export function parsePlay(text: string): PlayLine[] {
  const lines = text.split(/\r?\n/);
  // A final newline leaves one empty string behind; it is not a line of the play.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const out: PlayLine[] = [];
  let speaker = STAGE_DIRECTION;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') {
      speaker = STAGE_DIRECTION;
    } else if (line.startsWith(' ')) {
      out.push({ speaker, body: line.trim() });
    } else if (line.startsWith('ACT')) {
      out.push({ speaker: ACTS, body: line.trim() });
    } else {
      speaker = line.trim();
      i++;
    }
  }
  return out;
}

/** Distinct speakers, in order of first line. */
export function speakersOf(lines: PlayLine[]): string[] {
  return [...new Set(lines.map((l) => l.speaker))];
}

/**
 * The localpart of a speaker's user: lower case, every char not [a-z0-9] → '_', then '_' and the
 * run id (as the original benchmark does). Two speakers can share one ("NURSE" and "Nurse"): the
 * workload then has them share the user, as the original does.
 */
export function speakerLocalpart(speaker: string, runId: string): string {
  return `${speaker.toLowerCase().replace(/[^a-z0-9]/g, '_')}_${runId}`;
}
