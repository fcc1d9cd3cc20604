import type { Address } from 'viem';
import type { Config } from '../src/config/types.js';
import { timeServiceBackfill } from './backfill.js';
import { readRangesBare, timeBare } from './bare-logs.js';
import { type BenchChain, putTransferRange, randomAddresses, type TransferRange } from './chain.js';
import type { BenchDb, BenchOptions } from './options.js';
import type { Figure } from './report.js';

export interface ScanPlan {
  /** The watched recipients of the range (to be loaded into each database before the run). */
  watched: Address[];
  /** Recipient of the i-th log: every `1 / scanWatchedPct %`-th one watched, the others not. */
  recipientOf(i: number): Address;
  watchedLogs: number;
}

/** A busy token: most transfers go to addresses nobody watches, each a handful of times. */
export function planScan(opts: BenchOptions): ScanPlan {
  const every = Math.max(1, Math.round(100 / Math.max(opts.scanWatchedPct, 1)));
  const watchedLogs = Math.ceil(opts.scanLogs / every);
  const watched = randomAddresses(Math.max(1, Math.min(watchedLogs, 1_000)));
  const others = randomAddresses(Math.max(1, Math.ceil(opts.scanLogs / 4)));
  return {
    watched,
    watchedLogs,
    recipientOf: (i) =>
      i % every === 0 ? watched[(i / every) % watched.length]! : others[i % others.length]!,
  };
}

export function putScanRange(bc: BenchChain, plan: ScanPlan, opts: BenchOptions): Promise<TransferRange> {
  return putTransferRange(bc, plan.recipientOf, { ...opts, logs: opts.scanLogs });
}

/**
 * deposit_scan: a service whose cursor is before the range takes it by backfill; the baseline reads the
 * same ranges bare (eth_getLogs + the last header by plain fetch, decoded) and does nothing with them.
 * What the service adds: asking the database which recipients are watched, storing the 1% as deposits
 * with their messages and audit rows, and moving the cursor, one transaction per range.
 */
export async function runDepositScan(
  config: Config,
  db: BenchDb,
  range: TransferRange,
  plan: ScanPlan,
  opts: BenchOptions,
  logFile: string,
): Promise<Figure> {
  const token = config.chain.tokens[0]!.addressLc;
  const baselineSeconds = await timeBare(async () => {
    const n = await readRangesBare(config.chain.rpcUrl, token, range.fromBlock, range.toBlock);
    if (n !== range.logs) throw new Error(`baseline found ${n} Transfer logs, expected ${range.logs}`);
  });
  const run = await timeServiceBackfill(config, range, logFile, opts.profileDir);
  if (run.deposits !== plan.watchedLogs)
    throw new Error(`deposit_scan: ${run.deposits} deposits stored, expected ${plan.watchedLogs}`);
  const blocks = range.toBlock - range.fromBlock + 1;
  return {
    name: 'deposit_scan',
    db,
    value: range.logs / run.seconds,
    unit: 'logs/s',
    baseline: range.logs / baselineSeconds,
    baselineLabel: 'bare eth_getLogs + decode of the same ranges (median of 3 after a warm-up)',
    goal: { op: '≥', ratio: 0.8 },
    note: `${range.logs} logs in ${blocks} blocks, ${run.deposits} (${opts.scanWatchedPct}%) to ${plan.watched.length} watched addresses among ${opts.watched}: ${run.seconds.toFixed(2)} s from 'backfill started' to the range's commit (${run.coldSeconds.toFixed(2)} s from the process's start()), ${run.cpuSeconds.toFixed(2)} s CPU in the service; baseline ${baselineSeconds.toFixed(3)} s`,
  };
}
