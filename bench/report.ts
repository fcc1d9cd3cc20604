/** One measured figure, with the baseline it is compared to (measured in the same run). */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** The baseline's value in the same unit; the ratio is value / baseline. */
  baseline: number;
  /** What the baseline is, for the table. */
  baselineLabel: string;
  /** A target, when the issue sets one, e.g. '≥ 10000' or '< 250'; `met` says whether it holds. */
  target?: string;
  met?: boolean;
  note?: string;
}

export function ratioOf(f: Figure): number {
  return f.baseline === 0 ? Number.NaN : f.value / f.baseline;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return String(Math.round(n));
  if (Math.abs(n) >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}

/** The machine-readable lines: `bench <name> <value> <unit>` and `ratio <name> <value>`. */
export function figureLines(figures: Figure[]): string[] {
  return figures.flatMap((f) => [
    `bench ${f.name} ${fmt(f.value)} ${f.unit}`,
    `ratio ${f.name} ${fmt(ratioOf(f))}`,
  ]);
}

export function figureTable(figures: Figure[]): string {
  const header = ['figure', 'value', 'unit', 'baseline', 'ratio', 'target', 'met', 'baseline is'];
  const rows = figures.map((f) => [
    f.name,
    fmt(f.value),
    f.unit,
    fmt(f.baseline),
    fmt(ratioOf(f)),
    f.target ?? '',
    f.met === undefined ? '' : f.met ? 'yes' : 'NO',
    f.baselineLabel,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const notes = figures.filter((f) => f.note).map((f) => `  ${f.name}: ${f.note}`);
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
