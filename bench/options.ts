/** Sizes and switches of a bench run, from the environment. `BENCH_QUICK=1` scales everything down. */
export type BenchDb = 'sqlite' | 'mysql';

export interface BenchOptions {
  quick: boolean;
  /** The databases each figure is measured on, in order (BENCH_DB=both|sqlite|mysql; default both). */
  dbs: BenchDb[];
  /** Transfer logs in the scan range, and the share of them (in percent) that go to watched addresses. */
  scanLogs: number;
  scanWatchedPct: number;
  /** Transfer logs in the ingest range, every one to a watched address. */
  ingestLogs: number;
  /** Distinct (watched) recipients among them. */
  ingestRecipients: number;
  /** Transfer logs per multiTransfer transaction. */
  logsPerTx: number;
  /** Transfer logs per mined block. */
  logsPerBlock: number;
  /** Watched addresses in each database (the bench's recipients among them). */
  watched: number;
  /** Blocks mined in the latency bench, one every `latencyIntervalMs` (the first `latencyWarmup` not sampled). */
  latencyBlocks: number;
  latencyWarmup: number;
  latencyIntervalMs: number;
  /** Transfers to watched addresses per latency block. */
  latencyTransfersPerBlock: number;
  confirmHeight: number;
  /** Withdrawals in the payout bench (all from one collection wallet). */
  payouts: number;
  /** Withdrawals in the instances part, round-robin over 10 wallets (BENCH_INSTANCE_PAYOUTS; 600). */
  instancePayouts: number;
  /**
   * The instances part's node round trip (BENCH_INSTANCE_RPC_DELAY_MS; 0): the service instances reach the
   * node's HTTP RPC through a proxy holding each request this long, a hosted provider's distance.
   */
  instanceRpcDelayMs: number;
  /** Withdrawals in the gas part, paid batched and one by one (BENCH_GAS_PAYOUTS; 100). */
  gasPayouts: number;
  /** Write a CPU profile of each service child into this folder (BENCH_PROFILE=dir). */
  profileDir: string | undefined;
  /** Parts to run (BENCH_ONLY=scan,ingest,latency,payout,gas,instances,memory); default all. */
  only: Set<string>;
}

export const PARTS = ['scan', 'ingest', 'latency', 'payout', 'gas', 'instances', 'memory'] as const;

function int(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number, got ${text}`);
  return value;
}

function dbsOf(text: string | undefined): BenchDb[] {
  switch (text || 'both') {
    case 'both':
      return ['sqlite', 'mysql'];
    case 'sqlite':
      return ['sqlite'];
    case 'mysql':
      return ['mysql'];
    default:
      throw new Error(`BENCH_DB must be both, sqlite or mysql, got ${text}`);
  }
}

export function benchOptions(): BenchOptions {
  const quick = process.env.BENCH_QUICK === '1';
  const only = new Set((process.env.BENCH_ONLY || PARTS.join(',')).split(','));
  for (const part of only)
    if (!(PARTS as readonly string[]).includes(part))
      throw new Error(`BENCH_ONLY: unknown part ${part} (parts: ${PARTS.join(',')})`);
  return {
    quick,
    dbs: dbsOf(process.env.BENCH_DB),
    scanLogs: int('BENCH_SCAN_LOGS', quick ? 4_000 : 20_000),
    scanWatchedPct: int('BENCH_SCAN_WATCHED_PCT', 1),
    ingestLogs: int('BENCH_INGEST_LOGS', quick ? 1_000 : 10_000),
    ingestRecipients: int('BENCH_INGEST_RECIPIENTS', quick ? 500 : 5_000),
    logsPerTx: int('BENCH_LOGS_PER_TX', 100),
    logsPerBlock: int('BENCH_LOGS_PER_BLOCK', 200),
    watched: int('BENCH_WATCHED', quick ? 10_000 : 1_000_000),
    latencyBlocks: int('BENCH_LATENCY_BLOCKS', quick ? 5 : 25),
    latencyWarmup: int('BENCH_LATENCY_WARMUP', quick ? 1 : 3),
    latencyIntervalMs: int('BENCH_LATENCY_INTERVAL_MS', quick ? 500 : 1_000),
    latencyTransfersPerBlock: int('BENCH_LATENCY_TRANSFERS', 4),
    confirmHeight: int('BENCH_CONFIRM_HEIGHT', 12),
    payouts: int('BENCH_PAYOUTS', quick ? 50 : 500),
    instancePayouts: int('BENCH_INSTANCE_PAYOUTS', quick ? 60 : 600),
    instanceRpcDelayMs: int('BENCH_INSTANCE_RPC_DELAY_MS', 0),
    gasPayouts: int('BENCH_GAS_PAYOUTS', quick ? 10 : 100),
    profileDir: process.env.BENCH_PROFILE || undefined,
    only,
  };
}
