import { type Hex, toHex } from 'viem';
import { NATIVE_ADDRESS_LC } from '../config/chains.js';
import { notYetAs } from './block-logs.js';
import { NotYetError } from './log-check.js';
import type { BlockHeader, ChainRpc } from './rpc.js';
import type { TransferLog } from './transfers.js';

/**
 * Deposits of the chain's own coin: top-level transactions with a value to a watched address and a
 * successful receipt. They leave no log, so they are found in the blocks' transactions, which cost far
 * more than logs: the watcher reads them only while some address is watched for the native coin.
 * Value sent from inside a contract (an internal transfer) is not seen: it needs traces.
 *
 * A native transfer is a `TransferLog` at `NATIVE_ADDRESS_LC` with `logIndex` and `txLogOrdinal` -1: its
 * identity (tx hash, -1) stays apart from the token Transfer logs of the same transaction (0, 1, …).
 */

/**
 * Blocks (and receipts) asked of the node at once during a backfill: enough to hide the round trips,
 * few enough for a provider's rate limit. Blocks are reduced to their few candidates as they arrive, so
 * memory does not grow with the range.
 */
export const NATIVE_FETCH_CONCURRENCY = 8;

/** The fields of a transaction in a block fetched with its transactions. */
interface RpcTransaction {
  hash: Hex;
  from: Hex;
  to: Hex | null;
  value: Hex;
  blockHash: Hex | null;
  blockNumber: Hex | null;
}

interface RpcFullBlock {
  number: Hex;
  hash: Hex;
  parentHash: Hex;
  transactions: (RpcTransaction | Hex)[];
}

interface RpcReceipt {
  transactionHash: Hex;
  blockHash: Hex;
  blockNumber: Hex;
  /** 0x1 success, 0x0 reverted; absent only before Byzantium (2017). */
  status?: Hex | null;
}

/** What links a block to its parent: a range's blocks are checked to make one chain. */
export interface BlockLink {
  number: number;
  hash: Hex;
  parentHash: Hex;
}

export interface NativeRangeFetch {
  from: number;
  end: number;
  /** The range's blocks, in order, and the watched native transfers among them (receipts checked). */
  result: Promise<{ links: BlockLink[]; transfers: TransferLog[] }>;
  /** Starts no more node calls (the range is not used: refused logs, a failure, a stop). */
  cancel(): void;
}

export interface NativeTransferReaderDeps {
  /** Which of these lowercase addresses are watched for the native coin (re-checked by the tracker). */
  watchedAmong(addresses: string[]): Promise<Set<string>>;
  /** Node calls at once during a backfill. */
  concurrency: number;
}

/**
 * Runs `fn` over `items` with at most `limit` calls at once, results in input order. The first failure
 * rejects and no further item is started; so does `cancelled()` turning true.
 */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
  cancelled: () => boolean = () => false,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  async function worker() {
    while (next < items.length && !failed) {
      if (cancelled()) throw new Error('cancelled');
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Native transfers and token Transfer logs in chain order: by block, a block's native transfers first. */
export function mergeInChainOrder(native: TransferLog[], tokens: TransferLog[]): TransferLog[] {
  if (native.length === 0) return tokens;
  const out: TransferLog[] = [];
  let t = 0;
  for (const n of native) {
    while (t < tokens.length && tokens[t]!.blockNumber < n.blockNumber) out.push(tokens[t++]!);
    out.push(n);
  }
  while (t < tokens.length) out.push(tokens[t++]!);
  return out;
}

/**
 * Reads the native-coin transfers to watched addresses, by block hash (block by block) or by number
 * over a range (the backfill), each checked against the block it claims to be from. A lagging backend's
 * missing block or receipt, or one of another block, is "not yet" (`NotYetError`), never "no deposit".
 */
export function createNativeTransferReader(rpc: ChainRpc, deps: NativeTransferReaderDeps) {
  /**
   * The block's link and its value transfers (value > 0, a recipient), after checking it is the block
   * asked for: its number, and its hash and parent when known.
   */
  function reduceBlock(
    block: RpcFullBlock | null,
    expected: { number: number; hash?: Hex; parentHash?: Hex },
  ): { link: BlockLink; candidates: TransferLog[] } {
    if (!block) throw new NotYetError(`block ${expected.number} with its transactions not found`);
    const link: BlockLink = {
      number: Number(BigInt(block.number)),
      hash: block.hash.toLowerCase() as Hex,
      parentHash: block.parentHash.toLowerCase() as Hex,
    };
    if (
      link.number !== expected.number ||
      (expected.hash !== undefined && link.hash !== expected.hash) ||
      (expected.parentHash !== undefined && link.parentHash !== expected.parentHash)
    ) {
      throw new NotYetError(`the node answered block ${link.number} ${link.hash} for ${expected.number}`);
    }
    const candidates: TransferLog[] = [];
    for (const tx of block.transactions) {
      if (typeof tx === 'string') throw new Error(`block ${link.number} came without its transactions`);
      if (tx.blockHash && tx.blockHash.toLowerCase() !== link.hash) {
        throw new NotYetError(`a transaction of block ${link.number} says it is in ${tx.blockHash}`);
      }
      if (!tx.to) continue; // a contract creation
      const value = BigInt(tx.value);
      if (value <= 0n) continue;
      candidates.push({
        tokenAddressLc: NATIVE_ADDRESS_LC,
        fromLc: tx.from.toLowerCase() as Hex,
        toLc: tx.to.toLowerCase() as Hex,
        amountRaw: value,
        txHash: tx.hash.toLowerCase() as Hex,
        logIndex: -1,
        txLogOrdinal: -1,
        blockNumber: link.number,
        blockHash: link.hash,
      });
    }
    return { link, candidates };
  }

  async function keepWatched(candidates: TransferLog[]): Promise<TransferLog[]> {
    if (candidates.length === 0) return [];
    const watched = await deps.watchedAmong([...new Set(candidates.map((c) => c.toLc))]);
    return candidates.filter((c) => watched.has(c.toLc));
  }

  /**
   * The transfers whose transaction succeeded, by their receipts: a reverted one moved no value. A
   * receipt the node does not have, or of another block, is "not yet" (a lagging backend, or a
   * reorganisation the headers will show): never read as a failure.
   */
  async function keepSucceeded(transfers: TransferLog[], cancelled?: () => boolean): Promise<TransferLog[]> {
    const succeeded = await mapLimit(
      transfers,
      deps.concurrency,
      async (t) => {
        const receipt = await notYetAs(`the receipt of ${t.txHash}`, () =>
          rpc.request<RpcReceipt | null>('eth_getTransactionReceipt', [t.txHash]),
        );
        if (!receipt) throw new NotYetError(`the receipt of ${t.txHash} (block ${t.blockNumber}) not found`);
        if (
          receipt.blockHash?.toLowerCase() !== t.blockHash ||
          receipt.transactionHash?.toLowerCase() !== t.txHash
        ) {
          throw new NotYetError(
            `the receipt of ${t.txHash} is of block ${receipt.blockHash}, not ${t.blockHash}`,
          );
        }
        if (receipt.status === '0x1') return true;
        if (receipt.status === '0x0') return false;
        throw new Error(`the receipt of ${t.txHash} has no status (${String(receipt.status)})`);
      },
      cancelled,
    );
    return transfers.filter((_, i) => succeeded[i]);
  }

  /** The watched native transfers of one block (the one `header` describes). */
  async function blockTransfers(header: BlockHeader): Promise<TransferLog[]> {
    const block = await notYetAs(`block ${header.number} with its transactions`, () =>
      rpc.request<RpcFullBlock | null>('eth_getBlockByHash', [header.hash, true]),
    );
    const { candidates } = reduceBlock(block, header);
    return keepSucceeded(await keepWatched(candidates));
  }

  /**
   * Fetches every block of [from, end] with its transactions (a bounded number at once), keeping only
   * the links and the watched transfers, then their receipts. Checked by `checkRange` before use.
   */
  function fetchRange(from: number, end: number): NativeRangeFetch {
    let cancelled = false;
    const isCancelled = () => cancelled;
    const numbers = Array.from({ length: end - from + 1 }, (_, i) => from + i);
    const result = (async () => {
      const blocks = await mapLimit(
        numbers,
        deps.concurrency,
        async (n) => {
          const block = await notYetAs(`block ${n} with its transactions`, () =>
            rpc.request<RpcFullBlock | null>('eth_getBlockByNumber', [toHex(n), true]),
          );
          const { link, candidates } = reduceBlock(block, { number: n });
          // Filtered as each block arrives: a range's candidates would not fit in memory on a busy chain.
          return { link, transfers: await keepWatched(candidates) };
        },
        isCancelled,
      );
      const transfers = await keepSucceeded(
        blocks.flatMap((b) => b.transfers),
        isCancelled,
      );
      return { links: blocks.map((b) => b.link), transfers };
    })();
    // May be left unawaited (a refused range, a failure, a stop): not an unhandled rejection.
    result.catch(() => {});
    return {
      from,
      end,
      result,
      cancel() {
        cancelled = true;
      },
    };
  }

  /**
   * The range's transfers, once its blocks are shown to be one chain from `parent` (the tip before the
   * range) to `endHeader` (the end block the token logs were checked against): a lagging backend's
   * missing or stale block can then never let the cursor move past a native deposit.
   */
  async function checkRange(
    fetch: NativeRangeFetch,
    parent: Pick<BlockLink, 'number' | 'hash'>,
    endHeader: Pick<BlockHeader, 'number' | 'hash'>,
  ): Promise<TransferLog[]> {
    const { links, transfers } = await fetch.result;
    let previous = parent;
    for (const link of links) {
      if (link.number !== previous.number + 1 || link.parentHash !== previous.hash) {
        throw new NotYetError(
          `block ${link.number} of ${fetch.from}..${fetch.end} does not follow block ${previous.number} ${previous.hash}`,
        );
      }
      previous = link;
    }
    if (previous.number !== endHeader.number || previous.hash !== endHeader.hash) {
      throw new NotYetError(
        `the blocks of ${fetch.from}..${fetch.end} end at ${previous.number} ${previous.hash}, not at ${endHeader.hash}`,
      );
    }
    return transfers;
  }

  return { blockTransfers, fetchRange, checkRange };
}
