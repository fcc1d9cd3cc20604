import type { Figure } from './report.js';

export interface PayoutResult {
  figures: Figure[];
  /** Peak RSS of the service child during the payout run (bytes), for the memory figures. */
  peakRss: number;
}

/**
 * 3. Payout throughput: not built yet (it lands with src/payouts/). The place for it: start a service
 * child (child.ts) with funded wallets, publish N signed withdraw requests, mine one block a second, and
 * time requests → status 1 responses; baseline: the same transfers signed and sent bare
 * (eth_sendRawTransaction batches) on the same anvil. Return its figures and the child's peak RSS, which
 * memory.ts reports as memory_payout_peak.
 */
export async function runPayoutBench(): Promise<PayoutResult | undefined> {
  return undefined;
}
