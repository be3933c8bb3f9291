import { expect } from 'chai';
import { tallyPoll } from '../../src/matrix/polls.js';
import type { RoomEvent } from '../../src/matrix/types.js';

let n = 0;
function ev(type: string, sender: string, ts: number, content: Record<string, unknown>): RoomEvent {
  return { event_id: `$e${n++}`, room_id: '!r:x', sender, origin_server_ts: ts, type, content: content as any, prev_events: [], auth_events: [], depth: 1, hashes: { sha256: '' }, signatures: {} };
}
const start = ev('m.poll.start', '@alice:x', 0, {
  'm.poll': { question: { 'm.text': [{ body: 'Lunch?' }] }, kind: 'm.disclosed', max_selections: 1, answers: [{ id: 'pizza' }, { id: 'soup' }] },
});
const vote = (sender: string, ts: number, answers: unknown[], unstable = false) =>
  unstable
    ? ev('org.matrix.msc3381.poll.response', sender, ts, { 'org.matrix.msc3381.poll.response': { answers }, 'm.relates_to': { rel_type: 'm.reference', event_id: start.event_id } })
    : ev('m.poll.response', sender, ts, { 'm.selections': answers, 'm.relates_to': { rel_type: 'm.reference', event_id: start.event_id } });

describe('poll tally (MSC3381)', () => {
  it("counts each voter's latest response, stable and unstable forms", () => {
    const t = tallyPoll(start, [vote('@bob:x', 1, ['pizza']), vote('@bob:x', 2, ['soup'], true), vote('@carol:x', 3, ['soup'])], () => false)!;
    expect(t.answers).to.deep.equal({ pizza: 0, soup: 2 });
    expect(t.voters).to.equal(2);
    expect(t.ended).to.equal(false);
  });

  it('ignores responses after the end, and an end by someone without power', () => {
    const fakeEnd = ev('m.poll.end', '@mallory:x', 3, {});
    const end = ev('m.poll.end', '@alice:x', 5, {});
    const t = tallyPoll(start, [vote('@bob:x', 1, ['pizza']), fakeEnd, vote('@carol:x', 4, ['soup']), end, vote('@dave:x', 6, ['pizza']), vote('@bob:x', 7, ['soup'])], (u) => u === '@mod:x')!;
    expect(t.ended).to.equal(true);
    expect(t.end_event_id).to.equal(end.event_id);
    expect(t.answers).to.deep.equal({ pizza: 1, soup: 1 });
  });

  it('drops unknown answers, caps at max_selections, and a spoilt vote withdraws the earlier one', () => {
    const t = tallyPoll(start, [vote('@bob:x', 1, ['pizza', 'soup']), vote('@carol:x', 2, ['pizza']), vote('@carol:x', 3, ['nonsense'])], () => false)!;
    expect(t.answers).to.deep.equal({ pizza: 1, soup: 0 });
    expect(t.voters).to.equal(1);
  });

  it('is undefined for an event that is not a poll', () => {
    expect(tallyPoll(ev('m.room.message', '@a:x', 0, { body: 'x' }), [], () => false)).to.equal(undefined);
  });
});
