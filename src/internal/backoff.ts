/** How a retry loop waits: `firstMs` after the first failure, doubled after each one, at most `maxMs`. */
export interface BackoffPolicy {
  firstMs: number;
  maxMs: number;
}

/**
 * The one retry policy of the worker loops (watcher, payouts, relay), the message consumers and the
 * broker's topology: a node, database or broker outage is retried quickly at first, then every 10 s.
 */
export const defaultBackoff: BackoffPolicy = { firstMs: 500, maxMs: 10_000 };

/** The wait after `failures` consecutive failures (1 for the first). */
export function backoffMs(failures: number, policy: BackoffPolicy = defaultBackoff): number {
  const doublings = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(policy.firstMs * 2 ** doublings, policy.maxMs);
}
