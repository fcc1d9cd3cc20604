import type { AlertLevels, AlertsConfig } from '../config/types.js';
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
} as const satisfies Record<string, readonly AlertSeverity[]>;

export type AlertName = keyof typeof ALERT_SEVERITIES;

export interface Alert {
  name: AlertName;
  severity: AlertSeverity;
  /** One line for the operator. */
  message: string;
}

/** What the alerts look at; undefined means "not known yet" and never fires. */
export interface AlertInputs {
  pending: number | undefined;
  /** Usage (0..1) of each service queue whose depth is known. */
  queues: { queue: string; usage: number }[];
  failureRatio: number | undefined;
  memoryRatio: number | undefined;
  cpuRatio: number | undefined;
  /** The collection wallet's native balance; undefined when none is configured or not read yet. */
  collectionGasWei: bigint | undefined;
  watcherLag: number | undefined;
  brokerConnected: boolean;
  /** The last read from the node failed, or none succeeded for a while. */
  nodeDown: boolean;
  /** Age of the oldest payout signed or sent and not yet in a block (ms). */
  oldestInFlightMs: number | undefined;
  /** Payouts held `unresolved`. */
  unresolvedPayouts: number | undefined;
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
  const floor = config.collectionGasFloorWei;
  if (inputs.collectionGasWei !== undefined && floor > 0n && inputs.collectionGasWei < floor) {
    alerts.push({
      name: 'collection_gas',
      severity: 'critical',
      message: `collection wallet has ${formatAmount(inputs.collectionGasWei, 18)} ETH for gas (floor ${formatAmount(floor, 18)})`,
    });
  }
  if (inputs.watcherLag !== undefined && inputs.watcherLag > config.watcherLagBlocks) {
    alerts.push({
      name: 'watcher_lag',
      severity: 'warning',
      message: `watcher ${inputs.watcherLag} blocks behind the node (above ${config.watcherLagBlocks})`,
    });
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
  if (inputs.nodeDown) {
    alerts.push({ name: 'node_down', severity: 'critical', message: 'the node does not answer' });
  }
  return alerts;
}
