import type { MetricHooks } from '../context/common.js';
import type { Metrics } from '../internal/metrics.js';

/** The metric hooks the parts take (src/context/common.ts), bound to the service's registry. */
export function createMetricHooks(metrics: Metrics): MetricHooks {
  return {
    rpcError(method) {
      metrics.rpcErrors.inc({ method });
    },
    depositStatus(status, count) {
      metrics.depositTransitions.inc({ status }, count);
    },
    payoutTransition(from, to) {
      metrics.payoutTransitions.inc({ from, to });
    },
    payoutEvent(state, event) {
      // Also in the transitions series, as `to="<event>"` (documented there).
      metrics.payoutTransitions.inc({ from: state, to: event });
      if (event === 'replaced') metrics.payoutReplacements.inc();
    },
    outboxPublished(count) {
      metrics.outboxPublished.inc(count);
    },
    deadLetter(queue) {
      metrics.deadLetters.inc({ queue });
    },
    block(number) {
      metrics.blockHeight.set(number);
    },
    reorg(depth) {
      metrics.reorgs.inc();
      metrics.reorgDepth.observe(depth);
    },
  };
}
