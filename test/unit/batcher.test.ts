/** Group commit: concurrent small writes share one statement; a failing batch fails only its bad item. */
import { expect } from 'chai';
import { Batcher } from '../../src/storage/batcher.js';

describe('batcher', () => {
  it('sends a lone item at once and groups the items that arrive while a batch is in flight', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    const b = new Batcher<number, number>(async (items) => {
      batches.push(items);
      await gate;
      return items.map((i) => i * 10);
    }, 1);
    const first = b.submit(1);
    const rest = [b.submit(2), b.submit(3), b.submit(4)];
    expect(batches).to.deep.equal([[1]]);
    release();
    gate = Promise.resolve();
    expect(await first).to.equal(10);
    expect(await Promise.all(rest)).to.deep.equal([20, 30, 40]);
    expect(batches).to.deep.equal([[1], [2, 3, 4]]);
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
    const results = [12, 13, 14].map((i) => b.submit(i).catch((e: Error) => e.message));
    release();
    await first;
    expect(await Promise.all(results)).to.deep.equal(['12', 'bad item', '14']);
    expect(calls).to.deep.equal([[1], [12, 13, 14], [12], [13], [14]]);
  });
});
