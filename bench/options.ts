/** Sizes and switches of a bench run, from the environment. `BENCH_QUICK=1` scales everything down. */
export interface BenchOptions {
  quick: boolean;
  /** 'sqlite' (default) or 'mysql' (BENCH_DB=mysql, MariaDB on 127.0.0.1:3306). */
  db: 'sqlite' | 'mysql';
  /** Transfer logs the ingest bench puts on chain. */
  ingestLogs: number;
  /** Distinct recipients among them (all watched). */
  ingestRecipients: number;
  /** Transfer logs per multiTransfer transaction. */
  logsPerTx: number;
  /** Transfer logs per mined block. */
  logsPerBlock: number;
  /** Watched addresses in the database (the recipients among them). */
  watched: number;
  /** Blocks mined one a second in the latency bench (the first `latencyWarmup` are not sampled). */
  latencyBlocks: number;
  latencyWarmup: number;
  /** Transfers to watched addresses per latency block. */
  latencyTransfersPerBlock: number;
  confirmHeight: number;
  /** Withdrawals in the payout bench (all from one collection wallet). */
  payouts: number;
  /** confirmHeight of the payout bench's service (default: confirmHeight; at most 3 with BENCH_QUICK). */
  payoutConfirmHeight: number;
  /** Write a CPU profile of each service child into this folder (BENCH_PROFILE=dir). */
  profileDir: string | undefined;
  /** Parts to run (BENCH_ONLY=ingest,latency,payout,memory); default all. */
  only: Set<string>;
}

function int(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number, got ${text}`);
  return value;
}

export function benchOptions(): BenchOptions {
  const quick = process.env.BENCH_QUICK === '1';
  const db = process.env.BENCH_DB === 'mysql' ? 'mysql' : 'sqlite';
  const confirmHeight = int('BENCH_CONFIRM_HEIGHT', 12);
  return {
    quick,
    db,
    ingestLogs: int('BENCH_INGEST_LOGS', quick ? 2_000 : 20_000),
    ingestRecipients: int('BENCH_INGEST_RECIPIENTS', quick ? 1_000 : 10_000),
    logsPerTx: int('BENCH_LOGS_PER_TX', 100),
    logsPerBlock: int('BENCH_LOGS_PER_BLOCK', 200),
    watched: int('BENCH_WATCHED', quick ? 10_000 : 1_000_000),
    latencyBlocks: int('BENCH_LATENCY_BLOCKS', quick ? 8 : 64),
    latencyWarmup: int('BENCH_LATENCY_WARMUP', quick ? 1 : 4),
    latencyTransfersPerBlock: int('BENCH_LATENCY_TRANSFERS', 4),
    confirmHeight,
    payouts: int('BENCH_PAYOUTS', quick ? 200 : 2_000),
    payoutConfirmHeight: int(
      'BENCH_PAYOUT_CONFIRM_HEIGHT',
      quick ? Math.min(3, confirmHeight) : confirmHeight,
    ),
    profileDir: process.env.BENCH_PROFILE || undefined,
    only: new Set((process.env.BENCH_ONLY || 'ingest,latency,payout,memory').split(',')),
  };
}
