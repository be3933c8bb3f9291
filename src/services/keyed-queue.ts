/**
 * Work serialised per key (a room, a user): each task starts when the key's previous task has
 * settled, in the order they were queued; different keys run side by side. A key with nothing
 * queued holds no memory.
 */
export class KeyedQueue {
  /** Per key, the last queued task, settled either way. */
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Resolves once the work queued so far under these keys (every key when omitted) has settled. */
  async idle(keys?: Iterable<string>): Promise<void> {
    const waits: Promise<void>[] = [];
    if (keys === undefined) waits.push(...this.tails.values());
    else {
      for (const k of keys) {
        const tail = this.tails.get(k);
        if (tail) waits.push(tail);
      }
    }
    if (waits.length) await Promise.all(waits);
  }
}
