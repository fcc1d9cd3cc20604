import type { Config } from '../config/types.js';
import type { Logger } from '../internal/logger.js';
import { type Options, type PartialOptions, resolveOptions } from '../internal/options.js';

/**
 * The callbacks through which the parts move metrics. The service binds them to its prom-client registry
 * (src/monitor/hooks.ts); a part made alone (a test, a command) gets `noMetricHooks`.
 */
export interface MetricHooks {
  rpcError(method: string): void;
  depositStatus(status: 'pending' | 'confirmed' | 'failed' | 'moved', count: number): void;
  payoutTransition(from: string, to: string): void;
  /** Something that happened to a payout in `state` without changing it: `replaced`. */
  payoutEvent(state: string, event: string): void;
  outboxPublished(count: number): void;
  deadLetter(queue: string): void;
  block(number: number): void;
  reorg(depth: number): void;
  /** A treasury transfer (`sweep`, `gas_topup`) confirmed: its amount and fee, in whole units (floats). */
  treasuryTransfer(kind: string, symbol: string, amount: number, fee: number): void;
  /** A sweep round's plan: wallets at a threshold, what issued wallets hold, whether the gas wallet can pay. */
  sweepPlan(plan: { walletsAbove: number; held: Record<string, number>; gasWalletCanFund: boolean }): void;
}

export const noMetricHooks: MetricHooks = {
  rpcError() {},
  depositStatus() {},
  payoutTransition() {},
  payoutEvent() {},
  outboxPublished() {},
  deadLetter() {},
  block() {},
  reorg() {},
  treasuryTransfer() {},
  sweepPlan() {},
};

/**
 * What every part is made with, handed first to each `createX(common, deps)`: the configuration, the
 * logger, the metric hooks, the service's stop signal (aborted once the service has stopped; loops also
 * end on it) and the tunables.
 */
export interface Common {
  config: Config;
  logger: Logger;
  metrics: MetricHooks;
  stop: AbortSignal;
  options: Options;
}

export interface CreateCommonInput {
  config: Config;
  logger: Logger;
  metrics?: MetricHooks;
  stop?: AbortSignal;
  options?: PartialOptions;
}

export function createCommon(input: CreateCommonInput): Common {
  return {
    config: input.config,
    logger: input.logger,
    metrics: input.metrics ?? noMetricHooks,
    stop: input.stop ?? new AbortController().signal,
    options: resolveOptions(input.options),
  };
}
