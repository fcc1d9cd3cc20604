import type { AlertLevels, AlertsConfig, NativeCoinConfig } from '../config/types.js';
import { formatAmount } from '../money/amount.js';

export type AlertSeverity = 'warning' | 'critical';

/** Every alert and the severities it can have: each pair is one `m2pool_alert` series, 0 or 1. */
export const ALERT_SEVERITIES = {
  pending: ['warning', 'critical'],
  queue_usage: ['warning', 'critical'],
  failure_rate: ['warning', 'critical'],
  memory: ['warning', 'critical'],
  cpu: ['warning', 'critical'],
  // Payouts that fall back to the collection wallet fail without gas.
  collection_gas: ['critical'],
  // Deposits are reported late, but none is missed: the watcher catches up.
  watcher_lag: ['warning'],
  // A payout signed or sent long ago and still not in a block: refused by the node, or priced out.
  payout_stuck: ['warning'],
  // Payouts whose nonce was used by a transaction the node did not show: the operator settles them.
  payout_unresolved: ['critical'],
  broker_down: ['critical'],
  node_down: ['critical'],
  // Deposit wallets wait to be swept; nothing is lost and no payout fails for it.
  sweep_gas: ['warning'],
} as const satisfies Record<string, readonly AlertSeverity[]>;

export type AlertName = keyof typeof ALERT_SEVERITIES;

/** The alerts about one chain: each fires for that chain alone and names it. */
export const CHAIN_ALERTS: readonly AlertName[] = ['collection_gas', 'watcher_lag', 'node_down', 'sweep_gas'];

export interface Alert {
  name: AlertName;
  severity: AlertSeverity;
  /** One line for the operator; an alert about one chain starts with `chain <name>: `. */
  message: string;
  /** The configured chain an alert of CHAIN_ALERTS is about; absent for service-wide alerts. */
  chain?: string;
}

/** What the alerts look at on one chain; undefined means "not known yet" and never fires. */
export interface ChainAlertInputs {
  /** The configured chain name. */
  chain: string;
  /** The coin gas is paid in (the floor applies in its whole units). */
  native: NativeCoinConfig;
  /** The collection wallet's native balance; undefined when none is configured or not read yet. */
  collectionGasRaw: bigint | undefined;
  watcherLag: number | undefined;
  /** The node did not answer for a while (or the chain never connected); the text says how. */
  nodeDown: string | undefined;
}

/** What `sweep_gas` looks at on a chain whose sweeper runs here (src/monitor/treasury.ts). */
export interface SweepAlertInputs {
  chain: string;
  /** The native coin's symbol: the gas wallet's amounts are in it. */
  symbol: string;
  enabled: boolean;
  /** The gas wallet as the last round planned it (exact text); undefined before the first round. */
  gasWallet: { address: string; balance: string; needed: string; canFund: boolean } | undefined;
}

/** What the alerts look at; undefined means "not known yet" and never fires. */
export interface AlertInputs {
  pending: number | undefined;
  /** Usage (0..1) of each service queue whose depth is known. */
  queues: { queue: string; usage: number }[];
  failureRatio: number | undefined;
  memoryRatio: number | undefined;
  cpuRatio: number | undefined;
  /** Every configured chain. */
  chains: readonly ChainAlertInputs[];
  brokerConnected: boolean;
  /** Age of the oldest payout signed or sent and not yet in a block (ms). */
  oldestInFlightMs: number | undefined;
  /** Payouts held `unresolved`. */
  unresolvedPayouts: number | undefined;
  /** The chains whose sweeper runs in this instance. */
  sweeps: readonly SweepAlertInputs[];
}

/** The alerts active for these inputs: for two-level thresholds only the higher severity reached. */
export function evaluateAlerts(inputs: AlertInputs, config: AlertsConfig): Alert[] {
  const alerts: Alert[] = [];
  const level = (name: AlertName, value: number | undefined, levels: AlertLevels, describe: string) => {
    if (value === undefined) return;
    const severity: AlertSeverity | undefined =
      value > levels.critical ? 'critical' : value > levels.warning ? 'warning' : undefined;
    if (severity)
      alerts.push({ name, severity, message: `${describe} (${severity} above ${levels[severity]})` });
  };
  const pct = (ratio: number) => Math.round(ratio * 1000) / 10;

  level('pending', inputs.pending, config.pending, `${inputs.pending} transactions pending`);
  const fullest = inputs.queues.reduce<{ queue: string; usage: number } | undefined>(
    (max, q) => (max === undefined || q.usage > max.usage ? q : max),
    undefined,
  );
  if (fullest) {
    level(
      'queue_usage',
      fullest.usage * 100,
      config.queueUsagePct,
      `queue ${fullest.queue} at ${pct(fullest.usage)}% of ${config.queueCapacity} messages`,
    );
  }
  if (inputs.failureRatio !== undefined) {
    level(
      'failure_rate',
      inputs.failureRatio * 100,
      config.failureRatePct,
      `${pct(inputs.failureRatio)}% of payouts failed in the last hour`,
    );
  }
  if (inputs.memoryRatio !== undefined) {
    level('memory', inputs.memoryRatio * 100, config.memoryPct, `memory at ${pct(inputs.memoryRatio)}%`);
  }
  if (inputs.cpuRatio !== undefined) {
    level('cpu', inputs.cpuRatio * 100, config.cpuPct, `CPU at ${pct(inputs.cpuRatio)}% of a core`);
  }
  for (const chain of inputs.chains) {
    const on = (name: AlertName, severity: AlertSeverity, text: string) =>
      alerts.push({ name, severity, message: `chain ${chain.chain}: ${text}`, chain: chain.chain });
    const { symbol, decimals } = chain.native;
    const floor = scaleFloor(config.collectionGasFloorWei, decimals);
    if (chain.collectionGasRaw !== undefined && floor > 0n && chain.collectionGasRaw < floor) {
      on(
        'collection_gas',
        'critical',
        `collection wallet has ${formatAmount(chain.collectionGasRaw, decimals)} ${symbol} for gas (floor ${formatAmount(floor, decimals)})`,
      );
    }
    if (chain.watcherLag !== undefined && chain.watcherLag > config.watcherLagBlocks) {
      on(
        'watcher_lag',
        'warning',
        `watcher ${chain.watcherLag} blocks behind the node (above ${config.watcherLagBlocks})`,
      );
    }
  }
  const stuckMinutes = inputs.oldestInFlightMs === undefined ? undefined : inputs.oldestInFlightMs / 60_000;
  if (stuckMinutes !== undefined && stuckMinutes > config.payoutStuckMinutes) {
    alerts.push({
      name: 'payout_stuck',
      severity: 'warning',
      message: `a payout has waited ${Math.floor(stuckMinutes)} minutes for a block (above ${config.payoutStuckMinutes})`,
    });
  }
  if (inputs.unresolvedPayouts) {
    alerts.push({
      name: 'payout_unresolved',
      severity: 'critical',
      message: `${inputs.unresolvedPayouts} payout(s) held unresolved: settle with \`m2pool-payment payout resolve\``,
    });
  }
  if (!inputs.brokerConnected) {
    alerts.push({ name: 'broker_down', severity: 'critical', message: 'RabbitMQ is not connected' });
  }
  for (const s of inputs.sweeps) {
    const gas = s.gasWallet;
    if (!s.enabled || !gas || gas.canFund) continue;
    alerts.push({
      name: 'sweep_gas',
      severity: 'warning',
      message: `chain ${s.chain}: the gas wallet ${gas.address} cannot fund the sweep round: it needs ${gas.needed} ${s.symbol}, has ${gas.balance} ${s.symbol} (less its payouts in flight; or the vault has no key for it); deposit wallets wait`,
      chain: s.chain,
    });
  }
  for (const chain of inputs.chains) {
    if (chain.nodeDown === undefined) continue;
    alerts.push({
      name: 'node_down',
      severity: 'critical',
      message: `chain ${chain.chain}: ${chain.nodeDown}`,
      chain: chain.chain,
    });
  }
  return alerts;
}

/**
 * `alerts.collectionGasFloorEth` is read as an 18-decimal amount; it is the floor in whole units of
 * every chain's native coin, so it is moved to that coin's decimals (rounded up).
 */
function scaleFloor(floorWei: bigint, decimals: number): bigint {
  if (decimals >= 18) return floorWei * 10n ** BigInt(decimals - 18);
  const unit = 10n ** BigInt(18 - decimals);
  return (floorWei + unit - 1n) / unit;
}
