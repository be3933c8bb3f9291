/** Group commit: concurrent small writes share one statement; a failing batch fails only its bad item. */
import { expect } from 'chai';
import { Batcher } from '../../src/storage/batcher.js';

describe('batcher', () => {
  const turn = () => new Promise<void>((r) => setImmediate(r));

  it('sends the items of one turn of the event loop together, and groups those that arrive while a batch is in flight', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    const b = new Batcher<number, number>(async (items) => {
      batches.push(items);
      await gate;
      return items.map((i) => i * 10);
    }, 1);
    const first = [b.submit(1), b.submit(2)];
    expect(batches).to.deep.equal([]);
    await turn();
    expect(batches).to.deep.equal([[1, 2]]);
    const rest = [b.submit(3), b.submit(4)];
    await turn();
    const more = b.submit(5);
    await turn();
    expect(batches).to.deep.equal([[1, 2]]);
    release();
    gate = Promise.resolve();
    expect(await Promise.all(first)).to.deep.equal([10, 20]);
    expect(await Promise.all([...rest, more])).to.deep.equal([30, 40, 50]);
    expect(batches).to.deep.equal([[1, 2], [3, 4, 5]]);
  });

  it('sends a lone item after the turn it came in, waiting for nothing else', async () => {
    const b = new Batcher<number, number>(async (items) => items.map((i) => i + 1), 1);
    expect(await b.submit(1)).to.equal(2);
    expect(await b.submit(2)).to.equal(3);
  });

  it('retries a failed batch item by item, so only the bad item fails', async () => {
    const calls: number[][] = [];
    let hold = true;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = new Batcher<number, string>(async (items) => {
      calls.push(items);
      if (hold) {
        hold = false;
        await gate;
        return items.map(String);
      }
      if (items.includes(13)) throw new Error('bad item');
      return items.map(String);
    }, 1);
    const first = b.submit(1);
    await turn();
    const results = [12, 13, 14].map((i) => b.submit(i).catch((e: Error) => e.message));
    await turn();
    release();
    await first;
    expect(await Promise.all(results)).to.deep.equal(['12', 'bad item', '14']);
    expect(calls).to.deep.equal([[1], [12, 13, 14], [12], [13], [14]]);
  });
});
