/**
 * The node as the service sees it: the fault proxy of test/helpers/fault-rpc.ts in front of anvil (a
 * lagging backend, 429/503, drops, delays, WS cuts). This file holds the run's rates; the proxy is the
 * helper's.
 */
import { type FaultRates, type FaultRpc, startFaultRpc } from '../test/helpers/fault-rpc.js';

export type { FaultRates, FaultRpc };

/**
 * The rates of a run (see FaultRates for what each is per): a lagging backend answering a third of the
 * calls throughout, some rate limiting, failing and dropped requests, delays, a WS cut every ~50 s.
 */
export const chaosRates: FaultRates = {
  http429: 0.03,
  http503: 0.02,
  drop: 0.01,
  delay: 0.05,
  lag: 0.3,
  headerNotFound: 0.3,
  wsCut: 0.02,
};

export function startNodeFaults(
  target: { httpUrl: string; wsUrl: string },
  options: { seed: number; lagBlocks: number },
): Promise<FaultRpc> {
  return startFaultRpc(target, {
    seed: options.seed,
    rates: chaosRates,
    lagBlocks: options.lagBlocks,
    delayMs: [50, 800],
  });
}
