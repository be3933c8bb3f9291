/**
 * Stream positions: a reader must never see position N+1 before N is committed (ARCHITECTURE),
 * also when a write learns its position only as it commits (the one-statement room append).
 */
import { expect } from 'chai';
import { StreamIdGenerator } from '../../src/streams/id-generator.js';
import type { Queryable } from '../../src/storage/database.js';

/** A sequence in memory: nextval answers 1, 2, 3… */
function sequence(): Queryable & { nextval(): number } {
  let last = 0;
  const seq = {
    nextval: () => ++last,
    query: async (text: string) => {
      if (text.startsWith('SELECT last_value')) return { rows: [{ last_value: last, is_called: last > 0 }] } as any;
      return { rows: [{ id: seq.nextval() }] } as any;
    },
  };
  return seq;
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('stream positions', () => {
  it('a position taken first becomes visible only when every lower one is done', async () => {
    const gen = new StreamIdGenerator(sequence(), 's');
    await gen.init();
    const a = await gen.next();
    const b = await gen.next();
    b.done();
    expect(gen.current()).to.equal(0);
    a.done();
    expect(gen.current()).to.equal(2);
  });

  it('a write whose position is known only at commit holds back positions that finish meanwhile', async () => {
    const seq = sequence();
    const gen = new StreamIdGenerator(seq, 's');
    await gen.init();
    // The opaque write takes position 1 inside its statement, but has not answered yet.
    const slow = deferred<{ value: string; positions: number[] }>();
    const opaque = gen.writeWithPositions(() => slow.promise);
    const taken = seq.nextval();
    // Another writer takes 2 and commits first: 2 must wait, 1 might still be uncommitted.
    const b = await gen.next();
    expect(b.position).to.equal(2);
    b.done();
    expect(gen.current()).to.equal(0);
    slow.resolve({ value: 'ok', positions: [taken] });
    expect(await opaque).to.equal('ok');
    expect(gen.current()).to.equal(2);
  });

  it('an opaque write that fails releases what waited for it', async () => {
    const gen = new StreamIdGenerator(sequence(), 's');
    await gen.init();
    const slow = deferred<{ value: void; positions: number[] }>();
    const failing = gen.writeWithPositions(() => slow.promise).catch((e: Error) => e.message);
    const b = await gen.next();
    b.done();
    expect(gen.current()).to.equal(0);
    slow.reject(new Error('rolled back'));
    expect(await failing).to.equal('rolled back');
    expect(gen.current()).to.equal(1);
  });

  it('an opaque write that starts after a position finished does not hold it back', async () => {
    const gen = new StreamIdGenerator(sequence(), 's');
    await gen.init();
    const a = await gen.next();
    a.done();
    const slow = deferred<{ value: void; positions: number[] }>();
    const pending = gen.writeWithPositions(() => slow.promise);
    expect(gen.current()).to.equal(1);
    slow.resolve({ value: undefined, positions: [] });
    await pending;
  });

  it('waitFor resolves once the position is visible', async () => {
    const gen = new StreamIdGenerator(sequence(), 's');
    await gen.init();
    const a = await gen.next();
    let woke = false;
    const wait = gen.waitFor(1).then(() => (woke = true));
    await Promise.resolve();
    expect(woke).to.equal(false);
    a.done();
    await wait;
    expect(woke).to.equal(true);
  });
});
