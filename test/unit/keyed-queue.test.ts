/** Per-key serial work: order within a key, keys side by side, failures not blocking, idle(). */
import { expect } from 'chai';
import { KeyedQueue } from '../../src/services/keyed-queue.js';

describe('KeyedQueue', () => {
  const gate = () => {
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    return { open, opened };
  };

  it('runs a key’s tasks one at a time in order, other keys meanwhile, and a failure does not stop the next', async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    const a1 = gate();
    const first = q.run('a', async () => {
      log.push('a1 start');
      await a1.opened;
      log.push('a1 end');
      throw new Error('a1 failed');
    });
    const second = q.run('a', async () => {
      log.push('a2');
      return 2;
    });
    const other = q.run('b', async () => {
      log.push('b1');
      return 'b';
    });
    expect(await other).to.equal('b');
    expect(log).to.deep.equal(['a1 start', 'b1']);
    a1.open();
    await first.then(
      () => expect.fail('should reject'),
      (e: Error) => expect(e.message).to.equal('a1 failed'),
    );
    expect(await second).to.equal(2);
    expect(log).to.deep.equal(['a1 start', 'b1', 'a1 end', 'a2']);
  });

  it('idle() waits for the work queued so far, for some keys or all', async () => {
    const q = new KeyedQueue();
    const a = gate();
    const b = gate();
    let done = '';
    void q.run('a', async () => {
      await a.opened;
      done += 'a';
    });
    void q.run('b', async () => {
      await b.opened;
      done += 'b';
    }).catch(() => undefined);
    let aIdle = false;
    const waitA = q.idle(['a', 'unknown']).then(() => (aIdle = true));
    const waitAll = q.idle();
    a.open();
    await waitA;
    expect(aIdle).to.equal(true);
    expect(done).to.equal('a');
    b.open();
    await waitAll;
    expect(done).to.equal('ab');
    await q.idle(['nothing queued']);
  });
});
