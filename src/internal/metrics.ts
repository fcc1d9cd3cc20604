import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * The service's own Prometheus registry (never prom-client's global one: two services in one process,
 * as in tests, must not share or clash) and every metric, typed, named like its field. Counters move
 * from hooks in the parts (watcher, tracker, payout engine, relay, consumers, RPC); gauges are set
 * by the monitor from database counts and node reads every few seconds, never on a scrape. A series about
 * one chain carries its configured name as the `chain` label (bound once per chain by
 * `createMetricHooks(metrics, chain)` in src/monitor/hooks.ts); service-wide series (broker, queues,
 * outbox, dead letters, process, payout failure ratio and oldest in flight) have none.
 */
export function createMetrics() {
  const registry = new Registry();
  // process_cpu_seconds_total, process_resident_memory_bytes, nodejs_heap_*, event loop lag, …
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  return {
    registry,

    // v2 "监控指标": TotalTransactions, PendingTransactions, FailedTransactions (from the database).
    transactions: new Gauge({
      name: 'm2pool_transactions',
      help: 'Deposits and payouts recorded, by chain and kind (deposit, payout); recounted every minute',
      labelNames: ['chain', 'kind'] as const,
      registers,
    }),
    transactionsPending: new Gauge({
      name: 'm2pool_transactions_pending',
      help: 'Transactions not final yet, by chain and kind: deposits pending or orphaned, payouts accepted/signed/sent/unresolved/mined',
      labelNames: ['chain', 'kind'] as const,
      registers,
    }),
    transactionsFailed: new Gauge({
      name: 'm2pool_transactions_failed',
      help: 'Transactions that ended failed, by chain and kind; recounted every minute',
      labelNames: ['chain', 'kind'] as const,
      registers,
    }),
    deposits: new Gauge({
      name: 'm2pool_deposits',
      help: 'Deposits by chain and status (pending, orphaned, confirmed, failed); final states recounted every minute',
      labelNames: ['chain', 'status'] as const,
      registers,
    }),
    payouts: new Gauge({
      name: 'm2pool_payouts',
      help: 'Payouts by chain and state (accepted, signed, sent, unresolved, mined, confirmed, failed); final states recounted every minute',
      labelNames: ['chain', 'state'] as const,
      registers,
    }),
    payoutOldestInFlight: new Gauge({
      name: 'm2pool_payout_oldest_inflight_seconds',
      help: 'Age of the oldest payout signed or sent and not yet in a block; 0 when there is none',
      registers,
    }),
    payoutFailureRatio: new Gauge({
      name: 'm2pool_payout_failure_ratio',
      help: 'Failed among finished payouts created in the last hour (request refusals not counted); 0 with too few',
      registers,
    }),
    depositTransitions: new Counter({
      name: 'm2pool_deposit_transitions_total',
      help: 'Deposit state changes by chain: pending (seen), confirmed, failed, moved (re-included after a reorg)',
      labelNames: ['chain', 'status'] as const,
      registers,
    }),
    payoutTransitions: new Counter({
      name: 'm2pool_payout_transitions_total',
      help: 'Payout state changes, by chain, from and to state (to="replaced": a fee-bumped replacement)',
      labelNames: ['chain', 'from', 'to'] as const,
      registers,
    }),
    payoutReplacements: new Counter({
      name: 'm2pool_payout_replacements_total',
      help: 'Payout transactions replaced with the same nonce and higher fees, by chain',
      labelNames: ['chain'] as const,
      registers,
    }),

    // Chain: every series carries the configured chain name (`chain="ETH"`).
    blockHeight: new Gauge({
      name: 'm2pool_chain_block_height',
      help: 'Last block the watcher processed, by chain (v2 LastBlockHeight)',
      labelNames: ['chain'] as const,
      registers,
    }),
    nodeHead: new Gauge({
      name: 'm2pool_chain_node_head',
      help: "The node's latest block number, as the chain's watcher last saw it",
      labelNames: ['chain'] as const,
      registers,
    }),
    watcherLag: new Gauge({
      name: 'm2pool_watcher_lag_blocks',
      help: 'Blocks between the node head and the last block the watcher processed, by chain',
      labelNames: ['chain'] as const,
      registers,
    }),
    reorgs: new Counter({
      name: 'm2pool_reorgs_total',
      help: 'Chain reorganisations the watcher followed, by chain',
      labelNames: ['chain'] as const,
      registers,
    }),
    reorgDepth: new Histogram({
      name: 'm2pool_reorg_depth_blocks',
      help: 'Blocks removed by each reorganisation, by chain',
      labelNames: ['chain'] as const,
      buckets: [1, 2, 3, 5, 10, 20, 50, 100],
      registers,
    }),
    rpcErrors: new Counter({
      name: 'm2pool_rpc_errors_total',
      help: "Failed JSON-RPC calls to a chain's node, by chain and method",
      labelNames: ['chain', 'method'] as const,
      registers,
    }),
    walletBalance: new Gauge({
      name: 'm2pool_wallet_balance',
      help: "Collection wallet balance on a chain in whole units (the chain's native coin for gas, each configured token)",
      labelNames: ['chain', 'wallet', 'address', 'symbol'] as const,
      registers,
    }),

    // Treasury (src/treasury/): sweeps of the issued deposit wallets
    treasurySwept: new Counter({
      name: 'm2pool_treasury_swept_total',
      help: 'Amounts swept from deposit wallets into the collection wallet, confirmed, in whole units, by chain and symbol',
      labelNames: ['chain', 'symbol'] as const,
      registers,
    }),
    treasuryGasSpent: new Counter({
      name: 'm2pool_treasury_gas_spent_total',
      help: "Fees of confirmed sweeps and gas top-ups in the chain's native coin, by chain and kind",
      labelNames: ['chain', 'kind'] as const,
      registers,
    }),
    treasuryWalletsAbove: new Gauge({
      name: 'm2pool_treasury_wallets_above_threshold',
      help: "Deposit wallets with an asset at or above its sweep threshold in the last round's plan, by chain",
      labelNames: ['chain'] as const,
      registers,
    }),
    treasuryHeld: new Gauge({
      name: 'm2pool_treasury_deposit_wallet_funds',
      help: 'What the issued deposit wallets hold in all, in whole units, at the last round, by chain and symbol',
      labelNames: ['chain', 'symbol'] as const,
      registers,
    }),
    treasuryGasWalletCanFund: new Gauge({
      name: 'm2pool_treasury_gas_wallet_can_fund',
      help: "1 when the gas wallet could pay the last round's top-ups and their fees, else 0, by chain",
      labelNames: ['chain'] as const,
      registers,
    }),

    // Messages
    queueMessages: new Gauge({
      name: 'm2pool_queue_messages',
      help: 'Messages waiting (ready) in each service queue on the broker, by role',
      labelNames: ['queue', 'role'] as const,
      registers,
    }),
    queueUsage: new Gauge({
      name: 'm2pool_queue_usage_ratio',
      help: 'Queue usage (v2 ChannelUsage): messages waiting in the queue / alerts.queueCapacity',
      labelNames: ['queue', 'role'] as const,
      registers,
    }),
    consumerInFlight: new Gauge({
      name: 'm2pool_consumer_in_flight',
      help: 'Request messages being handled now (at most the prefetch), by queue',
      labelNames: ['queue'] as const,
      registers,
    }),
    brokerConnected: new Gauge({
      name: 'm2pool_broker_connected',
      help: '1 when connected to RabbitMQ with the topology declared',
      registers,
    }),
    deadLetters: new Counter({
      name: 'm2pool_dead_letters_total',
      help: 'Messages moved to <queue>.dlq, by source queue',
      labelNames: ['queue'] as const,
      registers,
    }),
    outboxBacklog: new Gauge({
      name: 'm2pool_outbox_backlog',
      help: 'Responses written but not yet published to RabbitMQ',
      registers,
    }),
    outboxPublished: new Counter({
      name: 'm2pool_outbox_published_total',
      help: 'Responses published with a broker confirm',
      registers,
    }),

    // Process (v2 MemoryUsage, CPUUsage), as ratios the alerts compare against
    memoryUsage: new Gauge({
      name: 'm2pool_memory_usage_ratio',
      help: 'Resident memory / memory available to the process (cgroup limit, else total RAM)',
      registers,
    }),
    cpuUsage: new Gauge({
      name: 'm2pool_cpu_usage_ratio',
      help: 'CPU seconds used per second over the last sample, in cores (1 = the JavaScript thread is saturated)',
      registers,
    }),

    alert: new Gauge({
      name: 'm2pool_alert',
      help: 'Alert state: 1 while the named alert is active at that severity (warning, critical), else 0; alerts about one chain (node_down, watcher_lag, collection_gas) have a series per chain',
      labelNames: ['name', 'severity', 'chain'] as const,
      registers,
    }),
  };
}
