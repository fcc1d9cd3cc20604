import type { MetricHooks } from '../context/common.js';
import type { Metrics } from '../internal/metrics.js';

/**
 * The metric hooks the parts take (src/context/common.ts), bound to the service's registry. A chain's
 * lane gets hooks bound to its name, so every series its watcher, tracker, payout engine and node client
 * move carries `chain="<name>"`; the service-wide hooks (`chain` left out) move the outbox and dead-letter
 * counters, which are about no one chain.
 */
export function createMetricHooks(metrics: Metrics, chain?: string): MetricHooks {
  // prom-client leaves a label out of the series when it is not given.
  const on = chain === undefined ? {} : { chain };
  return {
    rpcError(method) {
      metrics.rpcErrors.inc({ ...on, method });
    },
    depositStatus(status, count) {
      metrics.depositTransitions.inc({ ...on, status }, count);
    },
    payoutTransition(from, to) {
      metrics.payoutTransitions.inc({ ...on, from, to });
    },
    payoutEvent(state, event) {
      // Also in the transitions series, as `to="<event>"` (documented there).
      metrics.payoutTransitions.inc({ ...on, from: state, to: event });
      if (event === 'replaced') metrics.payoutReplacements.inc(on);
    },
    outboxPublished(count) {
      metrics.outboxPublished.inc(count);
    },
    deadLetter(queue) {
      metrics.deadLetters.inc({ queue });
    },
    block(number) {
      metrics.blockHeight.set(on, number);
    },
    reorg(depth) {
      metrics.reorgs.inc(on);
      metrics.reorgDepth.observe(on, depth);
    },
    treasuryTransfer(kind, symbol, amount, fee) {
      if (kind === 'sweep') metrics.treasurySwept.inc({ ...on, symbol }, amount);
      metrics.treasuryGasSpent.inc({ ...on, kind }, fee);
    },
    sweepPlan(plan) {
      metrics.treasuryWalletsAbove.set(on, plan.walletsAbove);
      for (const [symbol, amount] of Object.entries(plan.held))
        metrics.treasuryHeld.set({ ...on, symbol }, amount);
      metrics.treasuryGasWalletCanFund.set(on, plan.gasWalletCanFund ? 1 : 0);
    },
  };
}
