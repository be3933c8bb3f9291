/**
 * Stream positions from a Postgres sequence. Writers may commit out of order, so the position a
 * reader may see is the highest one below which nothing is still being written
 * (ARCHITECTURE: "a reader must never see position N+1 before N is committed").
 */
import type { Queryable } from '../storage/database.js';

export interface PendingPosition {
  readonly position: number;
  /** Call once the transaction holding this position committed or rolled back. */
  done(): void;
}

export class StreamIdGenerator {
  private visible = 0;
  private readonly inFlight = new Set<number>();
  private maxIssued = 0;

  constructor(
    private readonly db: Queryable,
    private readonly sequence: string,
  ) {}

  async init(): Promise<void> {
    const { rows } = await this.db.query<{ last_value: number; is_called: boolean }>(
      `SELECT last_value, is_called FROM ${this.sequence}`,
    );
    const last = rows[0]!.is_called ? Number(rows[0]!.last_value) : 0;
    this.visible = this.maxIssued = last;
  }

  /** The highest position every writer has finished with. */
  current(): number {
    return this.visible;
  }

  async next(tx: Queryable = this.db): Promise<PendingPosition> {
    const { rows } = await tx.query<{ id: number }>(`SELECT nextval('${this.sequence}') AS id`);
    const position = Number(rows[0]!.id);
    this.inFlight.add(position);
    if (position > this.maxIssued) this.maxIssued = position;
    let finished = false;
    return {
      position,
      done: () => {
        if (finished) return;
        finished = true;
        this.inFlight.delete(position);
        this.advance();
      },
    };
  }

  /** Lets a position written by another process become visible (from the cross-process notice). */
  observe(position: number): void {
    if (position > this.maxIssued) this.maxIssued = position;
    this.advance();
  }

  private waiters: { position: number; resolve: () => void }[] = [];

  /** Resolves once `position` is visible (a notice can arrive before an earlier writer commits). */
  waitFor(position: number): Promise<void> {
    if (this.visible >= position) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ position, resolve }));
  }

  private advance(): void {
    let lowestInFlight = Infinity;
    for (const p of this.inFlight) if (p < lowestInFlight) lowestInFlight = p;
    const next = lowestInFlight === Infinity ? this.maxIssued : lowestInFlight - 1;
    if (next > this.visible) {
      this.visible = next;
      if (this.waiters.length) {
        const ready = this.waiters.filter((w) => w.position <= next);
        this.waiters = this.waiters.filter((w) => w.position > next);
        for (const w of ready) w.resolve();
      }
    }
  }
}
