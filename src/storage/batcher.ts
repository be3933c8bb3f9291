/**
 * Group commit for small writes from concurrent requests: items submitted while earlier batches
 * are in flight wait, then go together as one statement — one round trip, one transaction, one
 * WAL flush for many requests. Items submitted in the same turn of the event loop (requests that
 * arrived together) go together too: a batch leaves once that turn ends (setImmediate), so a lone
 * request waits for nobody; under load batches grow by themselves. (On a VM, each socket write to
 * PostgreSQL wakes a backend and costs more CPU than the insert it carries.)
 *
 * A batch that fails is retried item by item, so one bad item fails only its own caller.
 */
export class Batcher<I, O> {
  private queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;

  constructor(
    /** Runs a batch; answers one output per item, in order. */
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly maxInFlight = 2,
    private readonly maxBatch = 256,
  ) {}

  private scheduled = false;

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.pump();
      });
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      void this.execute(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async execute(batch: typeof this.queue): Promise<void> {
    try {
      const out = await this.run(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(out[i]!));
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      for (const b of batch) {
        try {
          b.resolve((await this.run([b.item]))[0]!);
        } catch (e) {
          b.reject(e);
        }
      }
    }
  }
}
