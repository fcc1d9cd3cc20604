/**
 * Every tunable of the service, with its default and why it is that. Tests and the benchmark pass
 * `Partial`s of these groups; `resolveOptions` fills in the rest. Nothing else in src/ keeps a default
 * of its own for a tunable.
 */

export interface WatcherOptions {
  /** Poll interval while the WebSocket is down (ms): about a block time, so status 2 is not late. */
  pollMs: number;
  /** Poll interval while the WebSocket is up, as a safety net for a missed head (ms). */
  slowPollMs: number;
  /** First eth_getLogs range of a backfill; it halves on refusal and doubles after three successes. */
  initialRange: number;
  /** Largest range: providers cap ranges around 10,000 blocks, and bigger answers cost memory. */
  maxRange: number;
  /** Above this many logs in one answer, the next ranges are made smaller (bounded memory). */
  maxLogsPerRange: number;
  /** Backfill progress log interval (ms). */
  progressMs: number;
  /** Where to start when there is no cursor: a block number, or undefined for the head. */
  startBlock: number | undefined;
  /** Blocks kept below the finality depth for reorganisation checks, beyond `confirmHeight`. */
  extraKeptBlocks: number;
  /** Ping interval of the new-heads WebSocket (ms): a socket silent for one interval is reopened. */
  wsPingMs: number;
  /**
   * Blocks at the end of each backfill range whose blooms are checked against the range's logs: a
   * lagging backend answers a range only up to its own head, so what it leaves out is at the end.
   */
  rangeTailChecked: number;
}

export interface PayoutOptions {
  /** Accepted payouts taken per pass: one JSON-RPC batch of balances and estimates for them. */
  batchSize: number;
  /** Gas limit = estimate × (100 + margin) / 100: a token's cost moves a little between estimate and block. */
  gasMarginPct: number;
  /** Gas assumed for the funds check before the estimate is known (a USDT transfer is 41–63k). */
  gasGuess: bigint;
  /** Pass interval when nothing wakes the worker (ms); blocks and requests wake it sooner. */
  pollMs: number;
  /** Largest JSON-RPC batch the payout client sends (providers refuse larger ones). */
  rpcBatchSize: number;
  /** Time a payout-side node call may take before it counts as failed (ms). */
  rpcTimeoutMs: number;
  /** Signed payouts broadcast per pass; the rest wait for the next pass (bounds one JSON-RPC batch). */
  broadcastPerPass: number;
  /**
   * Blocks searched for the transaction that used a payout's nonce: within the recent state a
   * non-archive node keeps (128 blocks on geth), so no archive node is needed.
   */
  nonceSearchBlocks: number;
  /** Blocks a used nonce may stay unexplained (a lagging node) before the payout is held for the operator. */
  unresolvedAfterBlocks: number;
  /**
   * With several nodes (`rpcUrls`), each is asked for its head this often (ms) and the calls go first to
   * the one that failed least over the last `rpcRankSamples` asks, configured order among equals (viem's
   * ranked `fallback`): a failing node is passed over before a call has to wait for it to fail.
   */
  rpcRankMs: number;
  rpcRankSamples: number;
  /** An ask of the ranking that takes longer than this counts as failed (ms). */
  rpcRankTimeoutMs: number;
}

export interface RelayOptions {
  /** Outbox rows read and published per round. */
  batchSize: number;
  /** At a graceful stop, the time the relay may take to publish what is left (ms). */
  flushOnStopMs: number;
  /** Publishes awaiting their confirm at once: enough to fill the pipe, bounded memory. */
  maxInFlight: number;
  /** Safety-net poll when nobody calls `notify()` (ms). */
  pollMs: number;
}

export interface ConsumerOptions {
  /** Unacknowledged messages a consumer may hold: bounds memory and work lost to a crash. */
  prefetch: number;
}

export interface MonitorOptions {
  /** Database counts and lists, queue depths, process stats and alerts (ms). */
  intervalMs: number;
  /** Collection wallet balances, read from the node (ms): they change slowly and cost node calls. */
  balanceMs: number;
  /** Counts of final states: they only grow, and counting them reads more of the index (ms). */
  finalCountsMs: number;
  /** Rows in each list of the status page. */
  listLimit: number;
  /** The failure rate counts payouts created this recently (ms): an hour says "now", not "ever". */
  failureWindowMs: number;
  /** ...and only once this many have finished: one failure out of two is no trend. */
  failureMinSamples: number;
  /** No successful node call for this long is `node_down` (the watcher calls every few seconds). */
  nodeDownMs: number;
  /** A queue-depth query the broker does not answer in this time is skipped for this sample (ms). */
  queueDepthTimeoutMs: number;
}

export interface BrokerOptions {
  /** AMQP heartbeat (s): a silent partition is noticed within about twice this. */
  heartbeatS: number;
  /** At start, the time given the broker to declare the queues before the service goes on (ms). */
  startWaitMs: number;
}

export interface RpcOptions {
  /** Time a watcher-side node call may take before it counts as failed (ms). */
  timeoutMs: number;
  /**
   * A watcher-side call that failed in transport (HTTP 429 or 5xx, a dropped connection) is tried this
   * many times more, after `transportRetryMs`, doubling: hosted providers shed load this way, and one such
   * answer should not cost the watcher a whole pass and its backoff. JSON-RPC errors are not retried.
   */
  transportRetries: number;
  transportRetryMs: number;
  /**
   * With several nodes (`rpcUrls`), while the watcher's calls go to a node other than the first, the
   * nodes before it are asked this often (ms) whether they answer again: the first ones are the operator's
   * choice (their own node, the cheaper provider), and going back too eagerly to a flapping one costs
   * failed passes.
   */
  preferredRetryMs: number;
  /** That question (eth_blockNumber) counts as unanswered after this long (ms). */
  preferredProbeTimeoutMs: number;
}

export interface ClusterOptions {
  /**
   * A lease lapses this long after its last renewal (ms). With `renewMs` and `acquireMs` it bounds a
   * takeover after a holder dies: at most TTL + one acquire interval (about 7 s), within issue 13's 10 s.
   */
  leaseTtlMs: number;
  /** A holder renews this often (ms): three renewals per TTL, so one slow query does not lose the lease. */
  leaseRenewMs: number;
  /** A standby tries to take a lease this often (ms). */
  leaseAcquireMs: number;
  /** An instance writes its heartbeat this often (ms). */
  heartbeatMs: number;
  /** An instance whose heartbeat is older than this is not listed as live (ms). */
  instanceStaleMs: number;
  /** ...and its row is removed after this long without a heartbeat (ms). */
  instanceForgetMs: number;
}

export interface Options {
  watcher: WatcherOptions;
  payouts: PayoutOptions;
  relay: RelayOptions;
  consumer: ConsumerOptions;
  broker: BrokerOptions;
  monitor: MonitorOptions;
  rpc: RpcOptions;
  cluster: ClusterOptions;
}

export const defaultOptions: Options = {
  watcher: {
    pollMs: 1_000,
    slowPollMs: 5_000,
    initialRange: 2_000,
    maxRange: 10_000,
    maxLogsPerRange: 20_000,
    progressMs: 5_000,
    startBlock: undefined,
    extraKeptBlocks: 64,
    wsPingMs: 5_000,
    rangeTailChecked: 8,
  },
  payouts: {
    batchSize: 200,
    gasMarginPct: 20,
    gasGuess: 100_000n,
    pollMs: 1_000,
    rpcBatchSize: 200,
    rpcTimeoutMs: 20_000,
    broadcastPerPass: 1_000,
    nonceSearchBlocks: 100,
    unresolvedAfterBlocks: 20,
    rpcRankMs: 5_000,
    rpcRankSamples: 10,
    rpcRankTimeoutMs: 2_000,
  },
  relay: { batchSize: 500, flushOnStopMs: 3_000, maxInFlight: 100, pollMs: 1_000 },
  consumer: { prefetch: 50 },
  broker: { heartbeatS: 10, startWaitMs: 5_000 },
  monitor: {
    intervalMs: 5_000,
    balanceMs: 30_000,
    finalCountsMs: 60_000,
    listLimit: 20,
    failureWindowMs: 60 * 60 * 1_000,
    failureMinSamples: 10,
    nodeDownMs: 30_000,
    queueDepthTimeoutMs: 2_000,
  },
  rpc: {
    timeoutMs: 15_000,
    transportRetries: 2,
    transportRetryMs: 100,
    preferredRetryMs: 30_000,
    preferredProbeTimeoutMs: 2_000,
  },
  cluster: {
    leaseTtlMs: 6_000,
    leaseRenewMs: 2_000,
    leaseAcquireMs: 1_000,
    heartbeatMs: 1_500,
    instanceStaleMs: 10_000,
    instanceForgetMs: 24 * 60 * 60 * 1_000,
  },
};

export type PartialOptions = { [K in keyof Options]?: Partial<Options[K]> };

/** The defaults with `partial`'s groups laid over them. */
export function resolveOptions(partial: PartialOptions = {}): Options {
  return {
    watcher: { ...defaultOptions.watcher, ...partial.watcher },
    payouts: { ...defaultOptions.payouts, ...partial.payouts },
    relay: { ...defaultOptions.relay, ...partial.relay },
    consumer: { ...defaultOptions.consumer, ...partial.consumer },
    broker: { ...defaultOptions.broker, ...partial.broker },
    monitor: { ...defaultOptions.monitor, ...partial.monitor },
    rpc: { ...defaultOptions.rpc, ...partial.rpc },
    cluster: { ...defaultOptions.cluster, ...partial.cluster },
  };
}

/**
 * Rows in one multi-row statement, and ids in one `IN (…)` list: far below SQLite's 32,766 and MySQL's
 * 65,535 placeholders even at a dozen columns a row, and large enough that a batch costs one round trip.
 */
export const ROWS_PER_STATEMENT = 500;

/** `items` in consecutive slices of at most `size` (default ROWS_PER_STATEMENT). */
export function chunks<T>(items: readonly T[], size = ROWS_PER_STATEMENT): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
