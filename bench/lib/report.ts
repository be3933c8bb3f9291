/**
 * What a benchmark hands back: named figures with units and, where the issue sets one, a target.
 * A BenchError is an expected failure (the server cannot do something yet, a file is missing): the
 * runner prints its message as one line, without a stack.
 */

export class BenchError extends Error {
  override name = 'BenchError';
}

export interface Figure {
  metric: string;
  value: number;
  unit: 'ms' | 's' | 'MB' | 'count' | '/s' | '%';
  /** Upper bound the figure should stay under (lower is better). */
  target?: number;
  /** Extra words for the summary table. */
  note?: string;
}

export interface BenchContext {
  /** Prints a progress line (to stderr, so stdout holds only figures). */
  log(message: string): void;
}

export interface Benchmark {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<Figure[]>;
}

export const MB = 1024 * 1024;

export function formatValue(f: Figure): string {
  switch (f.unit) {
    case 'ms':
      return `${f.value.toFixed(f.value < 10 ? 2 : 0)} ms`;
    case 's':
      return `${f.value.toFixed(2)} s`;
    case 'MB':
      return `${f.value.toFixed(1)} MB`;
    case 'count':
      // Averages (statements per send) keep two decimals; whole counts print as integers.
      return Number.isInteger(f.value) ? String(f.value) : f.value.toFixed(2);
    case '/s':
      return `${f.value.toFixed(1)} /s`;
    case '%':
      return `${f.value.toFixed(1)} %`;
  }
}

export function formatTarget(f: Figure): string {
  if (f.target === undefined) return '';
  const target = formatValue({ ...f, value: f.target });
  return `< ${target} ${f.value < f.target ? 'ok' : 'MISSED'}`;
}

/** A plain-text table with left-aligned columns. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
