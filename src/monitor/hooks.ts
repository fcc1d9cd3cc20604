import type { BlockEvent, ReorgEvent } from '../chain/watcher.js';
import type { Metrics } from '../internal/metrics.js';

/**
 * The callbacks the parts take (`onError`, `onStatus`, `onTransition`, `onPublished`, `onDeadLetter`,
 * watcher listeners), bound to the metrics they move. Made before the parts, which take them at creation.
 */
export function createMetricHooks(metrics: Metrics) {
  return {
    rpcError(method: string) {
      metrics.rpcErrors.inc({ method });
    },
    depositStatus(status: string, count: number) {
      metrics.depositTransitions.inc({ status }, count);
    },
    payoutTransition(from: string, to: string) {
      metrics.payoutTransitions.inc({ from, to });
      if (to === 'replaced') metrics.payoutReplacements.inc();
    },
    outboxPublished(count: number) {
      metrics.outboxPublished.inc(count);
    },
    deadLetter(queue: string) {
      metrics.deadLetters.inc({ queue });
    },
    block(e: BlockEvent) {
      metrics.blockHeight.set(e.number);
    },
    reorg(e: ReorgEvent) {
      metrics.reorgs.inc();
      metrics.reorgDepth.observe(e.depth);
    },
  };
}

export type MetricHooks = ReturnType<typeof createMetricHooks>;
