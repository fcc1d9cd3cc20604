import type { Common } from '../context/common.js';
import type { Logger } from '../internal/logger.js';
import type { createBlockLogReader, RangeFetch } from './block-logs.js';
import { isNotYet, NotYetError } from './log-check.js';
import {
  type createNativeTransferReader,
  mergeInChainOrder,
  type NativeRangeFetch,
} from './native-transfers.js';
import type { BlockHeader, RpcLog } from './rpc.js';
import { decodeTransferLogs, type TransferLog } from './transfers.js';

/** The widest backfill range while the native coin is watched, when each block is fetched whole. */
const NATIVE_MAX_RANGE = 500;

/** A backfill range being fetched: its token logs, and its blocks' native transfers when those are watched. */
interface RangeFetches {
  from: number;
  end: number;
  tokens: RangeFetch;
  native: NativeRangeFetch | undefined;
}

export interface RangeBackfillDeps {
  logger: Logger;
  logs: Pick<ReturnType<typeof createBlockLogReader>, 'fetchRange' | 'checkRange'>;
  natives: Pick<ReturnType<typeof createNativeTransferReader>, 'fetchRange' | 'checkRange'>;
  /** The node failed (not the range): a refusal to take as it is, not to shrink the range for. */
  nodeFailing(): boolean;
  /** Whether native-coin deposits must be looked for (asked before each range). */
  watchingNative(): Promise<boolean>;
  /**
   * Commits a range: its transfers (in chain order) and the cursor moved to `end`, the header of its last
   * block; then the watcher's tip is `end`.
   */
  commitRange(transfers: TransferLog[], end: BlockHeader): Promise<void>;
  /** The watcher stops: no further range is started. */
  stop: AbortSignal;
}

/**
 * The watcher's backfill after downtime: eth_getLogs over ranges that adapt to what the node accepts
 * and, while the native coin is watched, every block of each range with its transactions. The range
 * size is kept from one backfill to the next.
 */
export function createRangeBackfill(common: Pick<Common, 'options'>, deps: RangeBackfillDeps) {
  const { logger, logs: logReader, natives } = deps;
  const tuning = common.options.watcher;
  let range = tuning.initialRange;
  let rangeSuccesses = 0;
  let running = false;

  /** The token logs of [from, end], and its blocks' native transfers when the native coin is watched. */
  async function fetchBoth(from: number, end: number): Promise<RangeFetches> {
    const native = (await deps.watchingNative()) ? natives.fetchRange(from, end) : undefined;
    return { from, end, tokens: logReader.fetchRange(from, end), native };
  }

  /**
   * The blocks after `after` (the tip, known canonical) up to `to`, in ranges that adapt to what the node
   * accepts; the cursor moves with each range.
   */
  async function backfill(after: Pick<BlockHeader, 'number' | 'hash'>, to: number) {
    running = true;
    const from = after.number + 1;
    const total = to - from + 1;
    const startedAt = Date.now();
    let lastReport = startedAt;
    let next = from;
    let parent = after;
    let ahead: RangeFetches | undefined;
    let fetch: RangeFetches | undefined;
    logger.info({ from, to, blocks: total }, 'backfill started');
    try {
      while (next <= to && !deps.stop.aborted) {
        // Every block of a range is one call while the native coin is watched: shorter ranges keep
        // the cursor (and the deposits found) moving at least every few seconds.
        const span = (await deps.watchingNative()) ? Math.min(range, NATIVE_MAX_RANGE) : range;
        const end = Math.min(next + span - 1, to);
        fetch = ahead?.from === next && ahead.end === end ? ahead : undefined;
        if (ahead !== fetch) ahead?.native?.cancel();
        ahead = undefined;
        // The first native address may have been watched since the range was fetched ahead.
        if (fetch && !fetch.native && (await deps.watchingNative())) fetch = undefined;
        fetch ??= await fetchBoth(next, end);
        let logs: RpcLog[];
        try {
          logs = await fetch.tokens.logs;
        } catch (err) {
          fetch.native?.cancel();
          if (isNotYet(err)) throw new NotYetError(`logs of blocks ${next}..${end}`, { cause: err });
          const tried = end - next + 1;
          if (tried > 1 && !deps.nodeFailing()) {
            // Half of what was tried, not of `range`: near the head the span is shorter than `range`,
            // and halving `range` alone would ask the node for the same span again.
            range = Math.max(1, Math.floor(tried / 2));
            rangeSuccesses = 0;
            logger.debug({ range, err }, 'eth_getLogs range refused; shrinking');
            continue;
          }
          throw err;
        }
        if (logs.length > tuning.maxLogsPerRange) {
          // A busy token: keep answers (and memory) bounded even where the node would send more.
          range = Math.max(1, Math.floor(range / 2));
          rangeSuccesses = 0;
        } else if (++rangeSuccesses >= 3 && range < tuning.maxRange) {
          range = Math.min(range * 2, tuning.maxRange);
          rangeSuccesses = 0;
        }
        const anchor = await logReader.checkRange(fetch.tokens, logs);
        const nativeTransfers = fetch.native ? await natives.checkRange(fetch.native, parent, anchor) : [];
        // The next range is fetched while this one is written: the node and the database work at once.
        if (end < to) {
          const nextSpan = fetch.native ? Math.min(range, NATIVE_MAX_RANGE) : range;
          ahead = await fetchBoth(end + 1, Math.min(end + nextSpan, to));
        }
        await deps.commitRange(mergeInChainOrder(nativeTransfers, decodeTransferLogs(logs)), anchor);
        parent = anchor;
        next = end + 1;
        const now = Date.now();
        if (now - lastReport >= tuning.progressMs || next > to) {
          lastReport = now;
          const done = next - from;
          const rate = done / Math.max((now - startedAt) / 1000, 0.001);
          logger.info(
            { done, total, rate: Math.round(rate), etaS: Math.round((total - done) / Math.max(rate, 0.001)) },
            'backfill progress',
          );
        }
      }
    } finally {
      fetch?.native?.cancel();
      ahead?.native?.cancel();
      running = false;
    }
  }

  return { backfill, isRunning: () => running };
}
