/**
 * The waiting half of a long-poll (/sync, sliding sync): listen to the notifier before computing
 * a response, so nothing that lands meanwhile is missed; then wait for a relevant notice or the
 * deadline, and until the notified position is visible (an earlier writer may still be committing).
 */
import type { Notifier, StreamNotice } from '../../streams/notifier.js';
import type { StreamIdGenerator } from '../../streams/id-generator.js';
import type { SyncStream } from '../../streams/sync-token.js';

export class LongPoll {
  private woken = false;
  private wake?: () => void;
  private readonly pending: StreamNotice[] = [];
  private readonly unsubscribe: () => void;

  constructor(
    notifier: Notifier,
    /** Whether a notice concerns this request; undefined until the first computation. */
    private relevant: ((n: StreamNotice) => boolean) | undefined,
    private readonly generatorOf: (stream: SyncStream) => StreamIdGenerator | undefined,
    private readonly now: () => number,
  ) {
    this.unsubscribe = notifier.subscribe((n) => {
      if (this.relevant && !this.relevant(n)) return;
      this.pending.push(n);
      this.woken = true;
      this.wake?.();
    });
  }

  /** Called before each computation, with the relevance test for what it covers. */
  reset(relevant: (n: StreamNotice) => boolean): void {
    this.relevant = relevant;
    this.woken = false;
  }

  /** Waits for news or the deadline; false once the deadline passed with nothing new. */
  async wait(deadline: number): Promise<boolean> {
    if (!this.woken) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - this.now()));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    for (const n of this.pending.splice(0)) {
      const gen = this.generatorOf(n.stream as SyncStream);
      if (gen && gen.current() < n.position) {
        await Promise.race([gen.waitFor(n.position), new Promise((r) => setTimeout(r, Math.max(0, deadline - this.now())))]);
      }
    }
    return this.woken || this.now() < deadline;
  }

  close(): void {
    this.unsubscribe();
  }
}
