import type { WatcherStatus } from '../chain/watcher.js';
import { assetsOf } from '../config/chains.js';
import type { Config } from '../config/types.js';
import { formatAmount } from '../money/amount.js';
import { ACTIVE_PAYOUT_STATES } from '../payouts/state.js';
import { ACTIVE_DEPOSIT_STATUSES, type DepositView, type PayoutView } from '../store/repos/monitor.js';
import type { DepositStatus, PayoutState } from '../store/schema.js';
import type { Alert } from './alerts.js';
import type { WalletBalances } from './balances.js';
import type { SystemSample } from './system.js';
import type { TreasuryStatus } from './treasury.js';

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

/** Where a chain's lane is (src/lane.ts): its parts run only once its node showed the configured chain id. */
export type ChainRunState = 'connecting' | 'running' | 'failed' | 'stopped';

/** What the last sample found about one chain. */
export interface ChainSample {
  name: string;
  /** The node's chain id once the chain runs, else the configured one. */
  chainId: number | undefined;
  state: ChainRunState;
  confirmHeight: number;
  watcher: WatcherStatus;
  /** Why the node_down alert fires for this chain, or undefined. */
  nodeDown: string | undefined;
  depositCounts: Map<DepositStatus, number>;
  payoutCounts: Map<PayoutState, number>;
  /** The collection wallet's last balances on this chain (kept while the node is away). */
  collection: WalletBalances | undefined;
  collectionAddress: string | undefined;
  /** Why the last balance read failed, or undefined. */
  balanceError: string | undefined;
}

/** What the last sample found; the status page and the gauges are built from it. */
export interface MonitorState {
  sampledAt: number | undefined;
  /** Every configured chain, in config order (ETH first). */
  chains: ChainSample[];
  failureRatio: number | undefined;
  /** Age of the oldest payout signed or sent and not yet in a block (ms); undefined when there is none. */
  oldestInFlightMs: number | undefined;
  pendingDeposits: DepositView[];
  pendingPayouts: PayoutView[];
  recentDeposits: DepositView[];
  recentPayouts: PayoutView[];
  outboxBacklog: number | undefined;
  queues: QueueView[];
  system: SystemSample | undefined;
  alerts: Alert[];
  /** Why the last sample is incomplete (database or node unreachable). */
  errors: string[];
}

export interface BuildStatusInput {
  config: Config;
  startedAt: number;
  state: MonitorState;
  /** Each swept chain's treasury (src/monitor/treasury.ts); none when left out. */
  treasury?: readonly TreasuryStatus[];
}

/** Counts of every chain added up, by state. */
export function totalCounts<K>(maps: readonly Map<K, number>[]): Map<K, number> {
  const total = new Map<K, number>();
  for (const m of maps) for (const [k, n] of m) total.set(k, (total.get(k) ?? 0) + n);
  return total;
}

export const sumOf = <K>(map: Map<K, number>, keys?: readonly K[]): number =>
  keys ? keys.reduce((t, k) => t + (map.get(k) ?? 0), 0) : [...map.values()].reduce((t, n) => t + n, 0);

/**
 * The JSON of GET /status: what the status page shows, and what a script can poll. Amounts are exact
 * decimal strings; times are unix milliseconds with the age in seconds next to them. `chains` has one
 * entry per configured chain; `chain` is the first of them (ETH), as before there were several.
 */
export function buildStatus(input: BuildStatusInput) {
  const { config, state } = input;
  const now = Date.now();
  // A deposit's decimals: its chain's token (or native coin) at that address.
  const decimals = new Map<string, number>(
    config.chains.flatMap((c) => assetsOf(c).map((t) => [`${c.name}/${t.addressLc}`, t.decimals] as const)),
  );
  const byName = new Map(state.chains.map((c) => [c.name, c]));
  const ageS = (t: number) => Math.max(0, Math.round((now - t) / 1000));

  const deposit = (d: DepositView) => {
    const c = byName.get(d.chain);
    const tip = c?.watcher.tip;
    return {
      id: d.id,
      chain: d.chain,
      symbol: d.symbol,
      address: d.address,
      from: d.from,
      amount: formatAmount(BigInt(d.amountRaw), decimals.get(`${d.chain}/${d.tokenAddress}`) ?? 0),
      txHash: d.txHash,
      block: d.block,
      status: d.status,
      confirmations: d.status === 'pending' && tip !== undefined ? Math.max(0, tip - d.block + 1) : undefined,
      confirmHeight: c?.confirmHeight,
      createdAt: d.createdAt,
      updatedAt: d.updatedAt,
      ageS: ageS(d.createdAt),
    };
  };
  const payout = (p: PayoutView) => ({ ...p, ageS: ageS(p.createdAt) });

  const chains = state.chains.map((c) => ({
    name: c.name,
    chainId: c.chainId ?? null,
    state: c.state,
    confirmHeight: c.confirmHeight,
    tip: c.watcher.tip ?? null,
    nodeHead: c.watcher.nodeHead ?? null,
    lag: c.watcher.lag ?? null,
    wsConnected: c.watcher.wsConnected,
    backfilling: c.watcher.backfilling,
    caughtUp: c.watcher.caughtUp,
    nodeDown: c.nodeDown ?? null,
    pending: {
      deposits: sumOf(c.depositCounts, ACTIVE_DEPOSIT_STATUSES),
      payouts: sumOf(c.payoutCounts, ACTIVE_PAYOUT_STATES),
    },
    deposits: Object.fromEntries(c.depositCounts),
    payouts: Object.fromEntries(c.payoutCounts),
    collection:
      c.collectionAddress === undefined
        ? null
        : {
            address: c.collectionAddress,
            balances: (c.collection?.balances ?? []).map((b) => ({
              symbol: b.symbol,
              native: b.native,
              decimals: b.decimals,
              amount: b.amount,
            })),
            readAt: c.collection?.readAt ?? null,
            error: c.balanceError ?? null,
          },
  }));
  const depositCounts = totalCounts(state.chains.map((c) => c.depositCounts));
  const payoutCounts = totalCounts(state.chains.map((c) => c.payoutCounts));

  return {
    service: 'm2pool-payment',
    now,
    startedAt: input.startedAt,
    uptimeS: Math.round((now - input.startedAt) / 1000),
    sampledAt: state.sampledAt ?? null,
    errors: state.errors,
    /** The first chain (ETH): what /status showed before there were several. */
    chain: chains[0],
    chains,
    deposits: {
      counts: Object.fromEntries(depositCounts),
      pending: state.pendingDeposits.map(deposit),
    },
    payouts: {
      counts: Object.fromEntries(payoutCounts),
      failureRatio: state.failureRatio ?? null,
      oldestInFlightSeconds:
        state.oldestInFlightMs === undefined ? null : Math.floor(state.oldestInFlightMs / 1000),
      pending: state.pendingPayouts.map(payout),
      /**
       * Payouts held for the operator's approval (withdrawal policies): every chain's count, and those
       * among the pending list (the oldest pending payouts of each state, so the oldest held ones).
       */
      held: {
        count: payoutCounts.get('held') ?? 0,
        list: state.pendingPayouts.filter((p) => p.state === 'held').map(payout),
      },
    },
    recent: {
      deposits: state.recentDeposits.map(deposit),
      payouts: state.recentPayouts.map(payout),
    },
    wallets: state.chains.flatMap((c) =>
      c.collection
        ? [
            {
              role: c.collection.role,
              chain: c.collection.chain,
              address: c.collection.address,
              balances: c.collection.balances.map((b) => ({ symbol: b.symbol, amount: b.amount })),
              readAt: c.collection.readAt,
            },
          ]
        : [],
    ),
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
    treasury: input.treasury ?? [],
  };
}

export type StatusSnapshot = ReturnType<typeof buildStatus>;
export type ChainStatus = StatusSnapshot['chains'][number];
