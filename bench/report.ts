import type { BenchDb } from './options.js';

/** A bound on a figure's ratio to its baseline: `≥ 0.8` for a rate, `≤ 1.5` for a latency. */
export interface Goal {
  op: '≥' | '≤';
  ratio: number;
}

/** One measured figure on one database, with the baseline it is compared to (measured in the same run). */
export interface Figure {
  name: string;
  db: BenchDb;
  value: number;
  unit: string;
  /** The baseline's value in the same unit; the ratio is value / baseline. */
  baseline: number;
  /** What the baseline is, for the table. */
  baselineLabel: string;
  goal?: Goal;
  note?: string;
}

export function ratioOf(f: Figure): number {
  return f.baseline === 0 ? Number.NaN : f.value / f.baseline;
}

export function goalMet(f: Figure): boolean | undefined {
  if (!f.goal) return undefined;
  const r = ratioOf(f);
  return f.goal.op === '≥' ? r >= f.goal.ratio : r <= f.goal.ratio;
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return String(Math.round(n));
  if (Math.abs(n) >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}

function goalText(f: Figure): string {
  if (!f.goal) return 'no goal';
  return `goal ${f.goal.op} ${f.goal.ratio}: ${goalMet(f) ? 'met' : 'not met'}`;
}

/**
 * The machine-readable lines of each figure: `bench <name> <db> <value> <unit>`, `baseline <name> <db>
 * <value> <unit>` and `ratio <name> <db> <value> (goal …)`.
 */
export function figureLines(figures: Figure[]): string[] {
  return figures.flatMap((f) => [
    `bench ${f.name} ${f.db} ${fmt(f.value)} ${f.unit}`,
    `baseline ${f.name} ${f.db} ${fmt(f.baseline)} ${f.unit}`,
    `ratio ${f.name} ${f.db} ${fmt(ratioOf(f))} (${goalText(f)})`,
  ]);
}

export function figureTable(figures: Figure[]): string {
  const header = ['figure', 'db', 'value', 'unit', 'baseline', 'ratio', 'goal', 'met', 'baseline is'];
  const rows = figures.map((f) => [
    f.name,
    f.db,
    fmt(f.value),
    f.unit,
    fmt(f.baseline),
    fmt(ratioOf(f)),
    f.goal ? `${f.goal.op} ${f.goal.ratio}` : '',
    f.goal ? (goalMet(f) ? 'yes' : 'NO') : '',
    f.baselineLabel,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const notes = figures.filter((f) => f.note).map((f) => `  ${f.name} (${f.db}): ${f.note}`);
  return [
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    ...(notes.length ? ['', 'notes:', ...notes] : []),
  ].join('\n');
}

/** Nearest-rank percentile of unsorted samples. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(samples: number[]): number {
  return percentile(samples, 50);
}
