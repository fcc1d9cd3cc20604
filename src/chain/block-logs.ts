import type { Hex } from 'viem';
import {
  blockLogsProblem,
  bloomMayHoldLogs,
  bloomOfLogs,
  isNotYet,
  NotYetError,
  rangeLogsProblem,
  sameBloom,
} from './log-check.js';
import type { BlockHeader, ChainRpc, RpcLog } from './rpc.js';
import { TRANSFER_TOPIC } from './transfers.js';

export interface RangeFetch {
  from: number;
  end: number;
  logs: Promise<RpcLog[]>;
  /** The headers of the range's last blocks (up to `tailChecked`), the last one `end`'s. */
  tail: Promise<(BlockHeader | null)[]>;
}

/** A node answer that means "not yet" (a lagging backend) as a NotYetError; any other error as it is. */
export async function notYetAs<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (isNotYet(err) && !(err instanceof NotYetError)) throw new NotYetError(what, { cause: err });
    throw err;
  }
}

/**
 * The token Transfer logs the watcher takes from the node, by block or by range, each checked against
 * the blocks they claim to be from before the cursor may move past them.
 */
export function createBlockLogReader(rpc: ChainRpc, tokenAddresses: Hex[], tailChecked: number) {
  const isTokenTransfer = (log: RpcLog) =>
    tokenAddresses.includes(log.address.toLowerCase() as Hex) &&
    log.topics[0]?.toLowerCase() === TRANSFER_TOPIC;

  /**
   * The token Transfer logs of a block, checked against it: each log of this block, in order, and an empty
   * answer only when the block's bloom allows it. A provider balancing over backends may answer logs from
   * one that lacks the block (`[]`, "header not found"): that is "not yet", retried, never "no transfers".
   * When the bloom says "maybe" (it also does for another token's Transfer next to this token's Approval),
   * the block's every log settles it: if they make up its bloom, the node has them all.
   */
  async function blockLogs(header: BlockHeader, asked?: Promise<RpcLog[]>): Promise<RpcLog[]> {
    let logs = asked ? await asked.catch(() => undefined) : undefined;
    // Asked for by number before the header was known (`askBlockLogs`): taken only when there are some and
    // every one is of this block (its hash). Otherwise (an empty answer may be a lagging backend's, the
    // call may have failed) asked again by the block's hash, as without them.
    if (!logs || logs.length === 0 || blockLogsProblem(header, logs)) {
      logs = await notYetAs(`logs of block ${header.number}`, () =>
        rpc.getLogsByBlockHash(header.hash, tokenAddresses, TRANSFER_TOPIC),
      );
    }
    const problem = blockLogsProblem(header, logs);
    if (problem) throw new NotYetError(`the logs of block ${header.number} do not agree with it: ${problem}`);
    if (logs.length > 0 || !bloomMayHoldLogs(header.logsBloom, tokenAddresses, TRANSFER_TOPIC)) return logs;
    const all = await notYetAs(`logs of block ${header.number}`, () => rpc.getAllLogsOfBlock(header.hash));
    if (blockLogsProblem(header, all) || !sameBloom(bloomOfLogs(all), header.logsBloom)) {
      throw new NotYetError(`the node has not all logs of block ${header.number} yet (its bloom says so)`);
    }
    return all.filter(isTokenTransfer);
  }

  /**
   * Starts asking for block `number`'s token Transfer logs by number, beside its header: for `blockLogs`,
   * which checks them against the header (hash, and the bloom for an empty answer) like logs by hash.
   */
  function askBlockLogs(number: number): Promise<RpcLog[]> {
    const logs = rpc.getLogsByRange(number, number, tokenAddresses, TRANSFER_TOPIC);
    logs.catch(() => {}); // not used when the pass fails or the header says another block
    return logs;
  }

  function fetchRange(from: number, end: number): RangeFetch {
    const tailFrom = Math.max(from, end - tailChecked + 1);
    const fetch = {
      from,
      end,
      logs: rpc.getLogsByRange(from, end, tokenAddresses, TRANSFER_TOPIC),
      tail: Promise.all(
        Array.from({ length: end - tailFrom + 1 }, (_, i) => rpc.getBlockHeader(tailFrom + i)),
      ),
    };
    // Either may be left unawaited (a refused range, a failed commit, a stop): not an unhandled rejection.
    fetch.logs.catch(() => {});
    fetch.tail.catch(() => {});
    return fetch;
  }

  /**
   * Checks a range's logs before the cursor moves past it: in the range and in order, the range's end block
   * returned by the node, and its last blocks' logs there whenever their blooms say there may be some. A
   * lagging backend answers only up to its own head, leaving out the end of the range. Resolves the header
   * of the end block.
   */
  async function checkRange(fetch: RangeFetch, logs: RpcLog[]): Promise<BlockHeader> {
    const { from, end } = fetch;
    const problem = rangeLogsProblem(from, end, logs);
    if (problem) throw new NotYetError(`the logs of blocks ${from}..${end} do not agree: ${problem}`);
    const tail = await fetch.tail;
    for (const header of tail) {
      if (!header) throw new NotYetError(`a block of ${from}..${end} not found during backfill`);
      const inBlock = logs.filter((l) => Number(BigInt(l.blockNumber)) === header.number);
      if (inBlock.some((l) => l.blockHash.toLowerCase() !== header.hash)) {
        throw new NotYetError(`the logs of block ${header.number} are of another block with that number`);
      }
      if (inBlock.length > 0 || !bloomMayHoldLogs(header.logsBloom, tokenAddresses, TRANSFER_TOPIC)) continue;
      if ((await blockLogs(header)).length > 0) {
        throw new NotYetError(`the logs of blocks ${from}..${end} leave out those of block ${header.number}`);
      }
    }
    return tail.at(-1)!;
  }

  return { blockLogs, askBlockLogs, fetchRange, checkRange };
}
