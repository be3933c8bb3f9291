/**
 * Stream positions from a Postgres sequence. Writers may commit out of order, so the position a
 * reader may see is the highest one below which nothing is still being written
 * (ARCHITECTURE: "a reader must never see position N+1 before N is committed").
 *
 * Two kinds of writers: those that take a position first (next(), then write and commit), and
 * those whose statement takes its positions from the sequence itself, after the lock it needs
 * (writeWithPositions: a room's one-statement append), known only once committed. While one of the
 * latter is in flight it may hold any position not yet handed out, so a position that finishes
 * meanwhile becomes visible only when every such write that was in flight at that moment is done.
 */
import type { Queryable } from '../storage/database.js';

export interface PendingPosition {
  readonly position: number;
  /** Call once the transaction holding this position committed or rolled back. */
  done(): void;
}

export class StreamIdGenerator {
  private visible = 0;
  /** Positions handed out by next() and not yet done. */
  private readonly inFlight = new Set<number>();
  /** Writes in flight whose positions the database assigns. */
  private readonly opaque = new Set<object>();
  /** Finished positions waiting for the opaque writes that were in flight when they finished. */
  private candidates: { position: number; blockers: Set<object> }[] = [];
  /** The highest finished position no opaque write can still undercut. */
  private maxReleased = 0;

  constructor(
    private readonly db: Queryable,
    private readonly sequence: string,
  ) {}

  async init(): Promise<void> {
    const { rows } = await this.db.query<{ last_value: number; is_called: boolean }>(
      `SELECT last_value, is_called FROM ${this.sequence}`,
    );
    const last = rows[0]!.is_called ? Number(rows[0]!.last_value) : 0;
    this.visible = this.maxReleased = last;
  }

  /** The highest position every writer has finished with. */
  current(): number {
    return this.visible;
  }

  async next(tx: Queryable = this.db): Promise<PendingPosition> {
    const { rows } = await tx.query<{ id: number }>(`SELECT nextval('${this.sequence}') AS id`);
    const position = Number(rows[0]!.id);
    this.inFlight.add(position);
    let finished = false;
    return {
      position,
      done: () => {
        if (finished) return;
        finished = true;
        this.inFlight.delete(position);
        this.finish(position);
      },
    };
  }

  /**
   * Runs a write whose statement takes its positions from the sequence and reports them once
   * committed (or rejects, having written nothing).
   */
  async writeWithPositions<T>(write: () => Promise<{ value: T; positions: number[] }>): Promise<T> {
    const token = {};
    this.opaque.add(token);
    let positions: number[] = [];
    try {
      const r = await write();
      positions = r.positions;
      return r.value;
    } finally {
      this.opaque.delete(token);
      for (const c of this.candidates) c.blockers.delete(token);
      this.finish(positions.length ? Math.max(...positions) : undefined);
    }
  }

  /** Lets a position written by another process become visible (from the cross-process notice). */
  observe(position: number): void {
    this.finish(position);
  }

  private waiters: { position: number; resolve: () => void }[] = [];

  /** Resolves once `position` is visible (a notice can arrive before an earlier writer commits). */
  waitFor(position: number): Promise<void> {
    if (this.visible >= position) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ position, resolve }));
  }

  private finish(position: number | undefined): void {
    if (position !== undefined) this.candidates.push({ position, blockers: new Set(this.opaque) });
    if (this.candidates.some((c) => c.blockers.size === 0)) {
      const waiting: typeof this.candidates = [];
      for (const c of this.candidates) {
        if (c.blockers.size) waiting.push(c);
        else if (c.position > this.maxReleased) this.maxReleased = c.position;
      }
      this.candidates = waiting;
    }
    this.advance();
  }

  private advance(): void {
    let lowestInFlight = Infinity;
    for (const p of this.inFlight) if (p < lowestInFlight) lowestInFlight = p;
    const next = Math.min(lowestInFlight - 1, this.maxReleased);
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
