import type { WatcherStatus } from '../chain/watcher.js';
import type { Config } from '../config/types.js';
import { formatAmount } from '../money/amount.js';
import type { DepositView, PayoutView } from '../store/repos/monitor.js';
import type { DepositStatus, PayoutState } from '../store/schema.js';
import type { Alert } from './alerts.js';
import type { WalletBalances } from './balances.js';
import type { SystemSample } from './system.js';

export interface QueueView {
  /** The v2 config key: topup, withdraw, pay, topup_resp, withdraw_resp, pay_resp. */
  role: string;
  queue: string;
  /** Messages ready on the broker; undefined while it cannot be asked. */
  messages: number | undefined;
  /** messages / alerts.queueCapacity. */
  usage: number | undefined;
  /** Handlers running now (request queues only). */
  inFlight: number | undefined;
}

/** What the last sample found; the status page and the gauges are built from it. */
export interface MonitorState {
  sampledAt: number | undefined;
  depositCounts: Map<DepositStatus, number>;
  payoutCounts: Map<PayoutState, number>;
  failureRatio: number | undefined;
  /** Age of the oldest payout signed or sent and not yet in a block (ms); undefined when there is none. */
  oldestInFlightMs: number | undefined;
  pendingDeposits: DepositView[];
  pendingPayouts: PayoutView[];
  recentDeposits: DepositView[];
  recentPayouts: PayoutView[];
  outboxBacklog: number | undefined;
  queues: QueueView[];
  wallets: WalletBalances[];
  system: SystemSample | undefined;
  alerts: Alert[];
  /** Why the last sample is incomplete (database or node unreachable). */
  errors: string[];
}

export interface BuildStatusInput {
  config: Config;
  chainId: number;
  startedAt: number;
  state: MonitorState;
  watcher: WatcherStatus;
}

/**
 * The JSON of GET /status: what the status page shows, and what a script can poll. Amounts are exact
 * decimal strings; times are unix milliseconds with the age in seconds next to them.
 */
export function buildStatus(input: BuildStatusInput) {
  const { config, state, watcher } = input;
  const now = Date.now();
  const decimals = new Map(config.chain.tokens.map((t) => [t.addressLc as string, t.decimals]));
  const ageS = (t: number) => Math.max(0, Math.round((now - t) / 1000));

  const deposit = (d: DepositView) => {
    const confirmations =
      watcher.tip !== undefined && (d.status === 'pending' || d.status === 'confirmed')
        ? Math.max(0, watcher.tip - d.block + 1)
        : undefined;
    return {
      id: d.id,
      symbol: d.symbol,
      address: d.address,
      from: d.from,
      amount: formatAmount(BigInt(d.amountRaw), decimals.get(d.tokenAddress) ?? 0),
      txHash: d.txHash,
      block: d.block,
      status: d.status,
      confirmations: d.status === 'pending' ? confirmations : undefined,
      createdAt: d.createdAt,
      updatedAt: d.updatedAt,
      ageS: ageS(d.createdAt),
    };
  };
  const payout = (p: PayoutView) => ({ ...p, ageS: ageS(p.createdAt) });

  return {
    service: 'm2pool-payment',
    now,
    startedAt: input.startedAt,
    uptimeS: Math.round((now - input.startedAt) / 1000),
    sampledAt: state.sampledAt ?? null,
    errors: state.errors,
    chain: {
      name: config.chain.name,
      chainId: input.chainId,
      confirmHeight: config.chain.confirmHeight,
      tip: watcher.tip ?? null,
      nodeHead: watcher.nodeHead ?? null,
      lag: watcher.lag ?? null,
      wsConnected: watcher.wsConnected,
      backfilling: watcher.backfilling,
      caughtUp: watcher.caughtUp,
    },
    deposits: {
      counts: Object.fromEntries(state.depositCounts),
      pending: state.pendingDeposits.map(deposit),
    },
    payouts: {
      counts: Object.fromEntries(state.payoutCounts),
      failureRatio: state.failureRatio ?? null,
      oldestInFlightSeconds:
        state.oldestInFlightMs === undefined ? null : Math.floor(state.oldestInFlightMs / 1000),
      pending: state.pendingPayouts.map(payout),
    },
    recent: {
      deposits: state.recentDeposits.map(deposit),
      payouts: state.recentPayouts.map(payout),
    },
    wallets: state.wallets.map((w) => ({
      role: w.role,
      address: w.address,
      balances: w.balances.map((b) => ({ symbol: b.symbol, amount: b.amount })),
      readAt: w.readAt,
    })),
    queues: {
      capacity: config.alerts.queueCapacity,
      items: state.queues.map((q) => ({
        role: q.role,
        queue: q.queue,
        messages: q.messages ?? null,
        usage: q.usage ?? null,
        inFlight: q.inFlight ?? null,
      })),
    },
    outbox: { backlog: state.outboxBacklog ?? null },
    system: state.system
      ? {
          rssBytes: state.system.rssBytes,
          memoryRatio: state.system.memoryRatio,
          cpuRatio: state.system.cpuRatio ?? null,
        }
      : null,
    alerts: state.alerts,
  };
}

export type StatusSnapshot = ReturnType<typeof buildStatus>;
