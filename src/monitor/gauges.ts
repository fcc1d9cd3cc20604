import type { Metrics } from '../internal/metrics.js';
import { ACTIVE_PAYOUT_STATES } from '../payouts/state.js';
import { ACTIVE_DEPOSIT_STATUSES } from '../store/repos/monitor.js';
import { ALERT_SEVERITIES, type AlertName, CHAIN_ALERTS } from './alerts.js';
import { balanceAsNumber } from './balances.js';
import { type MonitorState, sumOf } from './status.js';

/**
 * Sets every gauge from the last sample: a series about one chain under its `chain` label, the
 * service-wide ones without. A scrape reads these; it never queries anything itself.
 */
export function setGauges(
  m: Metrics,
  state: MonitorState,
  chainNames: readonly string[],
  brokerConnected: boolean,
): void {
  for (const c of state.chains) {
    const chain = c.name;
    const w = c.watcher;
    if (w.tip !== undefined) m.blockHeight.set({ chain }, w.tip);
    if (w.nodeHead !== undefined) m.nodeHead.set({ chain }, w.nodeHead);
    if (w.lag !== undefined) m.watcherLag.set({ chain }, w.lag);
    for (const [status, n] of c.depositCounts) m.deposits.set({ chain, status }, n);
    for (const [s, n] of c.payoutCounts) m.payouts.set({ chain, state: s }, n);
    if (c.depositCounts.size > 0 || c.payoutCounts.size > 0) {
      m.transactions.set({ chain, kind: 'deposit' }, sumOf(c.depositCounts));
      m.transactions.set({ chain, kind: 'payout' }, sumOf(c.payoutCounts));
      m.transactionsPending.set({ chain, kind: 'deposit' }, sumOf(c.depositCounts, ACTIVE_DEPOSIT_STATUSES));
      m.transactionsPending.set({ chain, kind: 'payout' }, sumOf(c.payoutCounts, ACTIVE_PAYOUT_STATES));
      m.transactionsFailed.set({ chain, kind: 'deposit' }, c.depositCounts.get('failed') ?? 0);
      m.transactionsFailed.set({ chain, kind: 'payout' }, c.payoutCounts.get('failed') ?? 0);
    }
    const wallet = c.collection;
    for (const b of wallet?.balances ?? []) {
      m.walletBalance.set(
        { chain, wallet: wallet!.role, address: wallet!.address, symbol: b.symbol },
        balanceAsNumber(b),
      );
    }
  }
  m.payoutFailureRatio.set(state.failureRatio ?? 0);
  m.payoutOldestInFlight.set((state.oldestInFlightMs ?? 0) / 1000);
  if (state.outboxBacklog !== undefined) m.outboxBacklog.set(state.outboxBacklog);
  m.brokerConnected.set(brokerConnected ? 1 : 0);
  for (const q of state.queues) {
    if (q.messages !== undefined) m.queueMessages.set({ queue: q.queue, role: q.role }, q.messages);
    if (q.usage !== undefined) m.queueUsage.set({ queue: q.queue, role: q.role }, q.usage);
    if (q.inFlight !== undefined) m.consumerInFlight.set({ queue: q.queue }, q.inFlight);
  }
  if (state.system) {
    m.memoryUsage.set(state.system.memoryRatio);
    if (state.system.cpuRatio !== undefined) m.cpuUsage.set(state.system.cpuRatio);
  }
  // Every series, 0 or 1: an alert about one chain has one series per chain.
  const active = new Set(state.alerts.map((a) => `${a.name}/${a.severity}/${a.chain ?? ''}`));
  for (const [name, severities] of Object.entries(ALERT_SEVERITIES) as [AlertName, readonly string[]][]) {
    const scopes = CHAIN_ALERTS.includes(name) ? chainNames : [undefined];
    for (const severity of severities) {
      for (const chain of scopes) {
        const on = active.has(`${name}/${severity}/${chain ?? ''}`) ? 1 : 0;
        m.alert.set(chain === undefined ? { name, severity } : { name, severity, chain }, on);
      }
    }
  }
}
