/**
 * The monitor's memory of the last hours, for the status page's charts: one point per step (a minute
 * by default), the point of the current step updated by every sample so the page shows now too. Kept
 * in memory only and bounded (a restart starts a new history); the amounts are floats for drawing,
 * never used for money.
 */

export interface HistoryOptions {
  /** The width of one point (ms). */
  stepMs: number;
  /** How many points are kept; the oldest goes first. */
  capacity: number;
}

export const DEFAULT_HISTORY: HistoryOptions = { stepMs: 60_000, capacity: 360 };

/** What one monitor sample contributes. */
export interface HistorySample {
  now: number;
  /**
   * Rows ever created (every status), when this sample counted them all: new deposits and payouts per
   * step are the differences. Undefined when the sample counted only the active states.
   */
  totals: { deposits: number; payouts: number } | undefined;
  /** Each chain's watcher lag (blocks), by chain name. */
  lag: Record<string, number | undefined>;
  outboxBacklog: number | undefined;
  /** Collection wallet balances, by `<chain> <symbol>`. */
  balances: Record<string, number>;
}

interface Point {
  t: number;
  deposits: number;
  payouts: number;
  outboxBacklog: number | null;
  lag: Record<string, number | null>;
  balances: Record<string, number>;
}

/** The JSON of GET /status/history: column arrays of the same length as `t` (unix ms), null where unknown. */
export interface HistorySeries {
  stepMs: number;
  capacity: number;
  t: number[];
  deposits: number[];
  payouts: number[];
  outboxBacklog: (number | null)[];
  lag: Record<string, (number | null)[]>;
  balances: Record<string, (number | null)[]>;
}

export type History = ReturnType<typeof createHistory>;

export function createHistory(options: HistoryOptions = DEFAULT_HISTORY) {
  const points: Point[] = [];
  // The totals when the current step began, and the latest seen: a step's count is their difference.
  let base: { deposits: number; payouts: number } | undefined;
  let latest: { deposits: number; payouts: number } | undefined;

  function record(sample: HistorySample): void {
    const t = Math.floor(sample.now / options.stepMs) * options.stepMs;
    let point = points.at(-1);
    if (!point || point.t !== t) {
      // A new step counts from where the last one ended: the first sample ever is the baseline, so
      // what existed before the service started is not shown as created in its first minute.
      base = latest ?? sample.totals;
      point = { t, deposits: 0, payouts: 0, outboxBacklog: null, lag: {}, balances: {} };
      points.push(point);
      if (points.length > options.capacity) points.splice(0, points.length - options.capacity);
    }
    if (sample.totals) {
      base ??= sample.totals;
      latest = sample.totals;
      // Never negative: a row is never deleted, but a count read is not atomic with another.
      point.deposits = Math.max(0, sample.totals.deposits - base.deposits);
      point.payouts = Math.max(0, sample.totals.payouts - base.payouts);
    }
    if (sample.outboxBacklog !== undefined) point.outboxBacklog = sample.outboxBacklog;
    for (const [chain, lag] of Object.entries(sample.lag)) point.lag[chain] = lag ?? point.lag[chain] ?? null;
    // A balance not read in this sample (node away) keeps the step's earlier value.
    Object.assign(point.balances, sample.balances);
  }

  function series(): HistorySeries {
    const lagKeys = new Set(points.flatMap((p) => Object.keys(p.lag)));
    const balanceKeys = new Set(points.flatMap((p) => Object.keys(p.balances)));
    const column = <T>(keys: Set<string>, pick: (p: Point) => Record<string, T>) =>
      Object.fromEntries([...keys].map((k) => [k, points.map((p) => pick(p)[k] ?? null)]));
    return {
      stepMs: options.stepMs,
      capacity: options.capacity,
      t: points.map((p) => p.t),
      deposits: points.map((p) => p.deposits),
      payouts: points.map((p) => p.payouts),
      outboxBacklog: points.map((p) => p.outboxBacklog),
      lag: column(lagKeys, (p) => p.lag),
      balances: column(balanceKeys, (p) => p.balances),
    };
  }

  return { record, series };
}
