import type { Broker, Consumer } from '../amqp/connection.js';
import { assetsOf } from '../config/chains.js';
import type { Common } from '../context/common.js';
import { errorMessage, sleep } from '../internal/errors.js';
import type { Metrics } from '../internal/metrics.js';
import { ACTIVE_PAYOUT_STATES, FINAL_PAYOUT_STATES, IN_FLIGHT_PAYOUT_STATES } from '../payouts/state.js';
import {
  ACTIVE_DEPOSIT_STATUSES,
  createMonitorQueries,
  FINAL_DEPOSIT_STATUSES,
} from '../store/repos/monitor.js';
import type { Db, DepositStatus, PayoutState } from '../store/schema.js';
import { type Alert, evaluateAlerts } from './alerts.js';
import { createChainSampler, type MonitoredChain } from './chains.js';
import { setGauges } from './gauges.js';
import { createHistory, DEFAULT_HISTORY, type HistoryOptions, type HistorySample } from './history.js';
import { type LookupQuery, lookup } from './lookup.js';
import { buildStatus, type ChainSample, type MonitorState, type QueueView, sumOf } from './status.js';
import { createSystemSampler } from './system.js';
import { createTreasuryView, type SweptChain } from './treasury.js';

export type { MonitoredChain } from './chains.js';

export interface MonitorDeps {
  db: Db;
  /** Every configured chain (the first is ETH), with its sweeper when it runs here (the treasury panel). */
  chains: readonly (MonitoredChain & SweptChain)[];
  /** The gauges it sets (the service's prom-client registry). */
  metrics: Metrics;
  relay: { backlog(): Promise<number> };
  broker: Pick<Broker, 'isConnected' | 'queueDepth'>;
  /** The request consumers, once started. */
  consumers: () => readonly Pick<Consumer, 'queue' | 'inFlight'>[];
  /** The charts' history: one point a minute for six hours unless given. */
  history?: HistoryOptions;
}

/** At most this many deposits and payouts of an address in a lookup. */
const LOOKUP_LIMIT = 50;

export type Monitor = ReturnType<typeof createMonitor>;

/**
 * Samples the service every few seconds (database counts through indexes, queue depths, the nodes'
 * balances less often), sets the gauges, raises alerts, and keeps the snapshot that /status serves:
 * a scrape or a page refresh never queries anything itself. Every configured chain is sampled on its
 * own: a chain whose node is down fires its node_down alert and keeps its last balances, while the
 * others show as they are.
 */
export function createMonitor(common: Common, deps: MonitorDeps) {
  const { config } = common;
  const { metrics } = deps;
  const options = deps;
  const logger = common.logger.child({ component: 'monitor' });
  const tuning = common.options.monitor;
  const queries = createMonitorQueries(deps.db);
  const system = createSystemSampler();
  const startedAt = Date.now();
  const stop = new AbortController();
  const chains = createChainSampler(common, { chains: deps.chains, metrics, startedAt });
  const chainNames = chains.names;
  const treasury = createTreasuryView(deps.chains);
  const state: MonitorState = {
    sampledAt: undefined,
    chains: chains.samples,
    failureRatio: undefined,
    oldestInFlightMs: undefined,
    pendingDeposits: [],
    pendingPayouts: [],
    recentDeposits: [],
    recentPayouts: [],
    outboxBacklog: undefined,
    queues: [],
    system: undefined,
    alerts: [],
    errors: [],
  };
  let lastFinalCounts = 0;
  const history = createHistory(deps.history ?? DEFAULT_HISTORY);
  // Rows ever created, from a sample that counted every status (else undefined): the charts' per-minute counts.
  let totals: HistorySample['totals'];
  const decimals = new Map<string, number>(
    config.chains.flatMap((c) => assetsOf(c).map((t) => [`${c.name}/${t.addressLc}`, t.decimals] as const)),
  );
  let loop: Promise<void> | undefined;
  let sampling: Promise<void> | undefined;
  let loggedError = '';

  const queueRoles = [
    ['topup', config.rmq.topup],
    ['withdraw', config.rmq.withdraw],
    ['pay', config.rmq.pay],
    ['topup_resp', config.rmq.topupResp],
    ['withdraw_resp', config.rmq.withdrawResp],
    ['pay_resp', config.rmq.payResp],
    // The address queues exist only when configured (the treasury's issued deposit addresses).
    ...(config.rmq.address && config.rmq.addressResp
      ? ([
          ['address', config.rmq.address],
          ['address_resp', config.rmq.addressResp],
        ] as const)
      : []),
  ] as const;

  // One query at a time: a few milliseconds longer, but never more than one pooled connection taken
  // from the parts that move money.
  async function sampleDatabase(now: number) {
    const withFinal = now - lastFinalCounts >= tuning.finalCountsMs;
    const depositStatuses = withFinal
      ? [...ACTIVE_DEPOSIT_STATUSES, ...FINAL_DEPOSIT_STATUSES]
      : ACTIVE_DEPOSIT_STATUSES;
    const payoutStates = withFinal ? [...ACTIVE_PAYOUT_STATES, ...FINAL_PAYOUT_STATES] : ACTIVE_PAYOUT_STATES;
    const counts: [ChainSample, Map<DepositStatus, number>, Map<PayoutState, number>][] = [];
    for (const sample of chains.samples) {
      const deposits = await queries.countDeposits(sample.name, depositStatuses);
      counts.push([sample, deposits, await queries.countPayouts(sample.name, payoutStates)]);
    }
    state.failureRatio = await queries.payoutFailureRatio(
      now - tuning.failureWindowMs,
      tuning.failureMinSamples,
    );
    const oldest = await queries.oldestPayoutCreatedAt(
      IN_FLIGHT_PAYOUT_STATES.filter((s) => s !== 'unresolved'),
    );
    state.oldestInFlightMs = oldest === undefined ? undefined : Math.max(now - oldest, 0);
    state.pendingDeposits = await queries.pendingDeposits(chainNames, tuning.listLimit);
    state.pendingPayouts = await queries.pendingPayouts(ACTIVE_PAYOUT_STATES, tuning.listLimit);
    state.recentDeposits = await queries.recentDeposits(tuning.listLimit);
    state.recentPayouts = await queries.recentPayouts(
      [...ACTIVE_PAYOUT_STATES, ...FINAL_PAYOUT_STATES],
      tuning.listLimit,
    );
    state.outboxBacklog = await options.relay.backlog();
    if (withFinal) lastFinalCounts = now;
    // Set together once every read succeeded, so the page never shows one chain's counts of two samples.
    for (const [sample, deposits, payouts] of counts) {
      for (const [s, n] of deposits) sample.depositCounts.set(s, n);
      for (const [s, n] of payouts) sample.payoutCounts.set(s, n);
    }
    totals = withFinal
      ? {
          deposits: counts.reduce((t, [, d]) => t + sumOf(d), 0),
          payouts: counts.reduce((t, [, , p]) => t + sumOf(p), 0),
        }
      : undefined;
  }

  async function sampleQueues() {
    const inFlight = new Map(options.consumers().map((c) => [c.queue, c.inFlight()]));
    state.queues = await Promise.all(
      queueRoles.map(async ([role, q]): Promise<QueueView> => {
        let messages: number | undefined;
        try {
          messages = await withTimeout(options.broker.queueDepth(q.queue), tuning.queueDepthTimeoutMs);
        } catch {
          messages = undefined;
        }
        return {
          role,
          queue: q.queue,
          messages,
          usage: messages === undefined ? undefined : messages / config.alerts.queueCapacity,
          inFlight: inFlight.get(q.queue),
        };
      }),
    );
  }

  function evaluate() {
    const total = (pick: (c: ChainSample) => number) => state.chains.reduce((sum, c) => sum + pick(c), 0);
    const known = state.sampledAt !== undefined;
    state.alerts = evaluateAlerts(
      {
        pending: known
          ? total(
              (c) =>
                sumOf(c.depositCounts, ACTIVE_DEPOSIT_STATUSES) + sumOf(c.payoutCounts, ACTIVE_PAYOUT_STATES),
            )
          : undefined,
        queues: state.queues.flatMap((q) =>
          q.usage === undefined ? [] : [{ queue: q.queue, usage: q.usage }],
        ),
        failureRatio: state.failureRatio,
        memoryRatio: state.system?.memoryRatio,
        cpuRatio: state.system?.cpuRatio,
        chains: chains.alertInputs(),
        brokerConnected: options.broker.isConnected(),
        oldestInFlightMs: state.oldestInFlightMs,
        unresolvedPayouts: known ? total((c) => c.payoutCounts.get('unresolved') ?? 0) : undefined,
        sweeps: treasury.alertInputs(),
      },
      config.alerts,
    );
  }

  async function sampleOnce() {
    const now = Date.now();
    const errors: string[] = [];
    state.system = system.sample();
    const [db] = await Promise.allSettled([
      sampleDatabase(now),
      sampleQueues(),
      chains.sampleBalances(now, tuning.queueDepthTimeoutMs),
    ]);
    if (db.status === 'rejected') errors.push(`database: ${errorMessage(db.reason)}`);
    else state.sampledAt = now;
    chains.sampleNow(Date.now());
    recordHistory(now, db.status === 'fulfilled');
    for (const c of state.chains) {
      if (c.balanceError) errors.push(`chain ${c.name}: collection wallet balance: ${c.balanceError}`);
    }
    state.errors = errors;
    evaluate();
    setGauges(metrics, state, chainNames, options.broker.isConnected());
    const text = errors.join('; ');
    if (text !== loggedError) {
      if (text) logger.warn({ errors }, 'monitor sample incomplete');
      loggedError = text;
    }
  }

  function recordHistory(now: number, dbRead: boolean) {
    const balances: Record<string, number> = {};
    for (const c of state.chains) {
      // Only a fresh read: a balance kept from before the node went away is not a new point.
      if (!c.collection || c.balanceError) continue;
      for (const b of c.collection.balances) balances[`${c.name} ${b.symbol}`] = Number(b.amount);
    }
    history.record({
      now,
      totals: dbRead ? totals : undefined,
      lag: Object.fromEntries(state.chains.map((c) => [c.name, c.watcher.lag])),
      outboxBacklog: dbRead ? state.outboxBacklog : undefined,
      balances,
    });
  }

  /** Samples now, or joins the sample in progress. */
  function refresh(): Promise<void> {
    sampling ??= sampleOnce().finally(() => {
      sampling = undefined;
    });
    return sampling;
  }

  async function run() {
    while (!stop.signal.aborted) {
      try {
        await refresh();
      } catch (err) {
        logger.warn({ err }, 'monitor sample failed');
      }
      await sleep(tuning.intervalMs, stop.signal);
    }
  }

  return {
    start() {
      loop ??= run();
    },
    async stop() {
      stop.abort();
      await loop;
      // A read waiting on a node that hangs ends with its timeout; nothing waits for it here.
    },
    refresh,
    /** The snapshot GET /status serves. */
    status() {
      // The watchers move between samples: show where they are now.
      chains.sampleNow(Date.now());
      return buildStatus({ config, startedAt, state, treasury: treasury.status(state.chains) });
    },
    alerts: (): readonly Alert[] => state.alerts,
    /** The charts' points (GET /status/history). */
    history: () => history.series(),
    /** The audit history of a queue_id or tx hash, or an address's deposits and payouts (GET /lookup). */
    lookup: (query: LookupQuery) =>
      lookup(deps.db, query, LOOKUP_LIMIT, (chain, token) => decimals.get(`${chain}/${token}`)),
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
