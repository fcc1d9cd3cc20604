import type { Broker, Consumer } from '../amqp/connection.js';
import type { ChainContext } from '../chain/context.js';
import type { WatcherStatus } from '../chain/watcher.js';
import type { Common } from '../context/common.js';
import { errorMessage, sleep } from '../internal/errors.js';
import type { Metrics } from '../internal/metrics.js';
import { ACTIVE_PAYOUT_STATES, FINAL_PAYOUT_STATES, IN_FLIGHT_PAYOUT_STATES } from '../payouts/state.js';
import {
  ACTIVE_DEPOSIT_STATUSES,
  createMonitorQueries,
  FINAL_DEPOSIT_STATUSES,
} from '../store/repos/monitor.js';
import type { Db } from '../store/schema.js';
import { ALERT_SEVERITIES, type Alert, type AlertName, evaluateAlerts } from './alerts.js';
import { balanceAsNumber, readCollectionBalances } from './balances.js';
import { buildStatus, type MonitorState, type QueueView } from './status.js';
import { createSystemSampler } from './system.js';

/** A chain as the monitor sees it: its parts once they run (a chain whose node is down may have none yet). */
export interface MonitoredChain {
  name: string;
  parts(): { context: ChainContext; watcher: { status(): WatcherStatus } } | undefined;
}

const NO_WATCHER: WatcherStatus = {
  tip: undefined,
  nodeHead: undefined,
  lag: undefined,
  wsConnected: false,
  backfilling: false,
  caughtUp: false,
};

export interface MonitorDeps {
  db: Db;
  /** Every configured chain (the first is ETH). */
  chains: readonly MonitoredChain[];
  /** The gauges it sets (the service's prom-client registry). */
  metrics: Metrics;
  relay: { backlog(): Promise<number> };
  broker: Pick<Broker, 'isConnected' | 'queueDepth'>;
  /** The request consumers, once started. */
  consumers: () => readonly Pick<Consumer, 'queue' | 'inFlight'>[];
}

export type Monitor = ReturnType<typeof createMonitor>;

/**
 * Samples the service every few seconds (database counts through indexes, queue depths, the node's
 * balances less often), sets the gauges, raises alerts, and keeps the snapshot that /status serves:
 * a scrape or a page refresh never queries anything itself.
 */
export function createMonitor(common: Common, deps: MonitorDeps) {
  const { config } = common;
  const { metrics } = deps;
  const options = deps;
  const first = deps.chains[0]!;
  const watcherStatus = () => first.parts()?.watcher.status() ?? NO_WATCHER;
  const logger = common.logger.child({ component: 'monitor' });
  const tuning = common.options.monitor;
  const queries = createMonitorQueries(deps.db, first.name);
  const system = createSystemSampler();
  const startedAt = Date.now();
  const stop = new AbortController();
  const state: MonitorState = {
    sampledAt: undefined,
    depositCounts: new Map(),
    payoutCounts: new Map(),
    failureRatio: undefined,
    oldestInFlightMs: undefined,
    pendingDeposits: [],
    pendingPayouts: [],
    recentDeposits: [],
    recentPayouts: [],
    outboxBacklog: undefined,
    queues: [],
    wallets: [],
    system: undefined,
    alerts: [],
    errors: [],
  };
  let lastFinalCounts = 0;
  let lastBalances = 0;
  let balanceError: string | undefined;
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
  ] as const;

  // One query at a time: a few milliseconds longer, but never more than one pooled connection taken
  // from the parts that move money.
  async function sampleDatabase(now: number) {
    const withFinal = now - lastFinalCounts >= tuning.finalCountsMs;
    const deposits = await queries.countDeposits(
      withFinal ? [...ACTIVE_DEPOSIT_STATUSES, ...FINAL_DEPOSIT_STATUSES] : ACTIVE_DEPOSIT_STATUSES,
    );
    const payouts = await queries.countPayouts(
      withFinal ? [...ACTIVE_PAYOUT_STATES, ...FINAL_PAYOUT_STATES] : ACTIVE_PAYOUT_STATES,
    );
    state.failureRatio = await queries.payoutFailureRatio(
      now - tuning.failureWindowMs,
      tuning.failureMinSamples,
    );
    const oldest = await queries.oldestPayoutCreatedAt(
      IN_FLIGHT_PAYOUT_STATES.filter((s) => s !== 'unresolved'),
    );
    state.oldestInFlightMs = oldest === undefined ? undefined : Math.max(now - oldest, 0);
    state.pendingDeposits = await queries.pendingDeposits(tuning.listLimit);
    state.pendingPayouts = await queries.pendingPayouts(ACTIVE_PAYOUT_STATES, tuning.listLimit);
    state.recentDeposits = await queries.recentDeposits(tuning.listLimit);
    state.recentPayouts = await queries.recentPayouts(
      [...ACTIVE_PAYOUT_STATES, ...FINAL_PAYOUT_STATES],
      tuning.listLimit,
    );
    state.outboxBacklog = await options.relay.backlog();
    if (withFinal) lastFinalCounts = now;
    for (const [s, n] of deposits) state.depositCounts.set(s, n);
    for (const [s, n] of payouts) state.payoutCounts.set(s, n);
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

  async function sampleBalances(now: number) {
    const chain = first.parts()?.context;
    const address = chain?.collectionAddressLc;
    if (!chain || !address || now - lastBalances < tuning.balanceMs) return;
    lastBalances = now;
    try {
      const read = await readCollectionBalances(chain.rpc.client, address, chain.tokens, (method) =>
        common.metrics.rpcError(method),
      );
      state.wallets = [read];
      balanceError = undefined;
    } catch (err) {
      balanceError = `collection wallet balance: ${errorMessage(err).split('\n')[0]}`;
    }
  }

  function evaluate(now: number, watcher: WatcherStatus) {
    const count = <K>(m: Map<K, number>, keys: readonly K[]) => keys.reduce((s, k) => s + (m.get(k) ?? 0), 0);
    const pending =
      state.sampledAt === undefined
        ? undefined
        : count(state.depositCounts, ACTIVE_DEPOSIT_STATUSES) +
          count(state.payoutCounts, ACTIVE_PAYOUT_STATES);
    const gas = state.wallets[0]?.balances[0]?.raw;
    state.alerts = evaluateAlerts(
      {
        pending,
        queues: state.queues.flatMap((q) =>
          q.usage === undefined ? [] : [{ queue: q.queue, usage: q.usage }],
        ),
        failureRatio: state.failureRatio,
        memoryRatio: state.system?.memoryRatio,
        cpuRatio: state.system?.cpuRatio,
        collectionGasWei: gas,
        watcherLag: watcher.lag,
        brokerConnected: options.broker.isConnected(),
        nodeDown: now - (first.parts()?.context.rpc.lastOkAt() ?? startedAt) > tuning.nodeDownMs,
        oldestInFlightMs: state.oldestInFlightMs,
        unresolvedPayouts:
          state.sampledAt === undefined ? undefined : (state.payoutCounts.get('unresolved') ?? 0),
      },
      config.alerts,
    );
  }

  function setGauges(watcher: WatcherStatus) {
    const m = metrics;
    if (watcher.tip !== undefined) m.blockHeight.set(watcher.tip);
    if (watcher.nodeHead !== undefined) m.nodeHead.set(watcher.nodeHead);
    if (watcher.lag !== undefined) m.watcherLag.set(watcher.lag);
    for (const [s, n] of state.depositCounts) m.deposits.set({ status: s }, n);
    for (const [s, n] of state.payoutCounts) m.payouts.set({ state: s }, n);
    const sum = <K>(map: Map<K, number>, keys?: readonly K[]) =>
      keys ? keys.reduce((t, k) => t + (map.get(k) ?? 0), 0) : [...map.values()].reduce((t, n) => t + n, 0);
    m.transactions.set({ kind: 'deposit' }, sum(state.depositCounts));
    m.transactions.set({ kind: 'payout' }, sum(state.payoutCounts));
    m.transactionsPending.set({ kind: 'deposit' }, sum(state.depositCounts, ACTIVE_DEPOSIT_STATUSES));
    m.transactionsPending.set({ kind: 'payout' }, sum(state.payoutCounts, ACTIVE_PAYOUT_STATES));
    m.transactionsFailed.set({ kind: 'deposit' }, state.depositCounts.get('failed') ?? 0);
    m.transactionsFailed.set({ kind: 'payout' }, state.payoutCounts.get('failed') ?? 0);
    m.payoutFailureRatio.set(state.failureRatio ?? 0);
    m.payoutOldestInFlight.set((state.oldestInFlightMs ?? 0) / 1000);
    if (state.outboxBacklog !== undefined) m.outboxBacklog.set(state.outboxBacklog);
    m.brokerConnected.set(options.broker.isConnected() ? 1 : 0);
    for (const q of state.queues) {
      if (q.messages !== undefined) m.queueMessages.set({ queue: q.queue, role: q.role }, q.messages);
      if (q.usage !== undefined) m.queueUsage.set({ queue: q.queue, role: q.role }, q.usage);
      if (q.inFlight !== undefined) m.consumerInFlight.set({ queue: q.queue }, q.inFlight);
    }
    for (const w of state.wallets) {
      for (const b of w.balances) {
        m.walletBalance.set({ wallet: w.role, address: w.address, symbol: b.symbol }, balanceAsNumber(b));
      }
    }
    if (state.system) {
      m.memoryUsage.set(state.system.memoryRatio);
      if (state.system.cpuRatio !== undefined) m.cpuUsage.set(state.system.cpuRatio);
    }
    const active = new Set(state.alerts.map((a) => `${a.name}/${a.severity}`));
    for (const [name, severities] of Object.entries(ALERT_SEVERITIES) as [AlertName, readonly string[]][]) {
      for (const severity of severities) {
        m.alert.set({ name, severity }, active.has(`${name}/${severity}`) ? 1 : 0);
      }
    }
  }

  async function sampleOnce() {
    const now = Date.now();
    const errors: string[] = [];
    state.system = system.sample();
    const [db] = await Promise.allSettled([sampleDatabase(now), sampleQueues(), sampleBalances(now)]);
    if (db.status === 'rejected') errors.push(`database: ${errorMessage(db.reason)}`);
    else state.sampledAt = now;
    if (balanceError) errors.push(balanceError);
    state.errors = errors;
    const watcher = watcherStatus();
    evaluate(now, watcher);
    setGauges(watcher);
    const text = errors.join('; ');
    if (text !== loggedError) {
      if (text) logger.warn({ errors }, 'monitor sample incomplete');
      loggedError = text;
    }
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
    },
    refresh,
    /** The snapshot GET /status serves. */
    status() {
      return buildStatus({
        config,
        chainId: first.parts()?.context.chainId ?? config.chain.chainId ?? 0,
        startedAt,
        state,
        watcher: watcherStatus(),
      });
    },
    alerts: (): readonly Alert[] => state.alerts,
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
