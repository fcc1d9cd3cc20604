import type { Hex } from 'viem';
import type { Common } from '../context/common.js';
import { backoffMs } from '../internal/backoff.js';
import { sleep } from '../internal/errors.js';
import { createWaker } from '../internal/wake.js';
import {
  insertBlock,
  loadCursor,
  pruneBlocksBelow,
  removeBlocksAbove,
  resetCursor,
  storedBlocksDescending,
} from '../store/repos/chain-blocks.js';
import { anyWatched, watchedAmong } from '../store/repos/watched.js';
import type { Db } from '../store/schema.js';
import { createRangeBackfill } from './backfill.js';
import { createBlockLogReader } from './block-logs.js';
import type { ChainContext } from './context.js';
import { subscribeHeads } from './heads.js';
import { isNotYet, NotYetError } from './log-check.js';
import {
  createNativeTransferReader,
  mergeInChainOrder,
  NATIVE_FETCH_CONCURRENCY,
} from './native-transfers.js';
import type { BlockHeader, RpcLog } from './rpc.js';
import { decodeTransferLogs, type TransferLog } from './transfers.js';

/** What the watcher hands its consumer (the deposit tracker), inside the transaction that moves the cursor. */
export interface WatcherSink {
  /** Transfers of blocks up to and including `tipNumber`, in chain order; then whatever depth-based work. */
  onBlocks(trx: Db, transfers: TransferLog[], tipNumber: number): Promise<void>;
  /** Blocks from `firstRemoved` up were removed by a reorganisation. */
  onReorg(trx: Db, firstRemoved: number): Promise<void>;
  /** After each commit (e.g. wake the outbox relay). */
  afterCommit?(): void;
}

export interface BlockEvent {
  number: number;
  hash: Hex;
  transfers: number;
}
export interface ReorgEvent {
  /** The common ancestor: the highest block still canonical. */
  ancestor: number;
  /** How many of our blocks were removed. */
  depth: number;
}

export interface WatcherStatus {
  tip: number | undefined;
  nodeHead: number | undefined;
  lag: number | undefined;
  wsConnected: boolean;
  backfilling: boolean;
  caughtUp: boolean;
}

export interface BlockWatcherDeps {
  db: Db;
  chain: ChainContext;
  sink: WatcherSink;
  /**
   * Run first in every transaction that moves the cursor: throws when this instance no longer leads the
   * chain (the fencing check of its `watcher:<CHAIN>` lease, src/cluster/lease.ts), so nothing is written.
   */
  fence?: (trx: Db) => Promise<void>;
}

export type BlockWatcher = ReturnType<typeof createBlockWatcher>;

/** A block as the watcher keeps its tip (a stored one has no bloom). */
type Tip = Pick<BlockHeader, 'number' | 'hash' | 'parentHash'>;

/**
 * Blocks below the kept ones are deleted once every this many blocks, not with each: one statement less
 * in most blocks' transactions, for at most this many more rows kept (more to compare after a reorganisation).
 */
const PRUNE_EVERY = 16;

/** A block's header and logs asked for before the pass knew the head number. */
interface AskedEarly {
  number: number;
  header: Promise<BlockHeader | null>;
  logs: Promise<RpcLog[]>;
}

/** A pass that ends because the node does not have a block yet: not a failure, try again after `pollMs`. */
type PassEnd = 'done' | 'not-yet';

/**
 * Follows the chain: new heads over WebSocket (HTTP polling while it is down), each new block's logs
 * fetched by block hash, a backfill by eth_getLogs ranges from the stored cursor (while an address is
 * watched for the native coin, also each block's transactions: `native-transfers.ts`), and reorganisations
 * detected against the recent blocks kept in `chain_blocks`. Blocks older than `confirmHeight` below the
 * head are taken by range: the service's confirmations already assume no reorganisation that deep.
 */
export function createBlockWatcher(common: Common, deps: BlockWatcherDeps) {
  const { db, sink } = deps;
  const { rpc, confirmHeight, name: chain } = deps.chain;
  const logReader = createBlockLogReader(
    rpc,
    deps.chain.tokens.map((t) => t.addressLc),
    common.options.watcher.rangeTailChecked,
  );
  const nativeSymbol = deps.chain.native.symbol;
  const natives = createNativeTransferReader(rpc, {
    watchedAmong: async (addresses) => watchedAmong(db, chain, nativeSymbol, addresses),
    concurrency: NATIVE_FETCH_CONCURRENCY,
  });
  /** Some address is watched for the native coin: blocks are then read with their transactions. */
  let nativeWatched = false;
  const logger = common.logger.child({ component: 'watcher', chain });
  const tuning = common.options.watcher;
  const keepBlocks = confirmHeight + tuning.extraKeptBlocks;
  const blockListeners: ((e: BlockEvent) => void)[] = [];
  const reorgListeners: ((e: ReorgEvent) => void)[] = [];
  const stopController = new AbortController();
  common.stop.addEventListener('abort', () => stopController.abort(), { once: true });
  const waker = createWaker(stopController.signal);
  let heads: ReturnType<typeof subscribeHeads> | undefined;
  let loop: Promise<void> | undefined;
  let tip: Tip | undefined;
  let nodeHead: number | undefined;
  /** The highest block number a new head announced: the next block is there to be read. */
  let announcedHead = -1;
  /** The next block's header and logs, asked for with the head number at the start of a pass (`syncToHead`). */
  let early: AskedEarly | undefined;
  /** Failed passes since the last progress (a commit), for the backoff. */
  let failures = 0;

  function signal() {
    waker.wake();
  }

  async function loadTip(): Promise<Tip | undefined> {
    return loadCursor(db, chain);
  }

  async function anchorAt(number: number): Promise<BlockHeader> {
    const header = await rpc.getBlockHeader(Math.max(number, 0));
    if (!header) throw new Error(`block ${number} not found while anchoring the watcher`);
    await fenced((trx) => insertBlock(trx, chain, header));
    logger.info({ block: header.number }, 'watcher starts after this block');
    return header;
  }

  function fenced(work: (trx: Db) => Promise<void>): Promise<void> {
    return db.transaction().execute(async (trx) => {
      await deps.fence?.(trx);
      await work(trx);
    });
  }

  async function commit(work: (trx: Db) => Promise<void>) {
    await fenced(work);
    // Progress, not whole passes, resets the backoff: a pass that committed blocks and then failed
    // retries soon, or deposits found after it would wait up to the longest backoff for their status 2.
    failures = 0;
    sink.afterCommit?.();
  }

  /**
   * Whether native-coin deposits must be looked for. Asked before each block and range (one index
   * seek); addresses are never unwatched, so once true it stays true without asking again.
   */
  async function watchingNative(): Promise<boolean> {
    if (!nativeWatched) nativeWatched = await anyWatched(db, chain, nativeSymbol);
    return nativeWatched;
  }

  async function processBlock(header: BlockHeader, askedLogs?: Promise<RpcLog[]>) {
    // The question whether the native coin is watched goes alongside the logs, not before them: the
    // answer is the same (asked for every block until it is yes), without its round trip on the way.
    const native = watchingNative().then((yes) => (yes ? natives.blockTransfers(header) : []));
    const [logs, nativeTransfers] = await Promise.all([logReader.blockLogs(header, askedLogs), native]);
    const transfers = mergeInChainOrder(nativeTransfers, decodeTransferLogs(logs));
    await commit(async (trx) => {
      await insertBlock(trx, chain, header);
      if (header.number % PRUNE_EVERY === 0) await pruneBlocksBelow(trx, chain, header.number - keepBlocks);
      await sink.onBlocks(trx, transfers, header.number);
    });
    tip = header;
    announceBlock({ number: header.number, hash: header.hash, transfers: transfers.length });
  }

  function announceBlock(event: BlockEvent) {
    common.metrics.block(event.number);
    for (const l of blockListeners) l(event);
  }

  const ranges = createRangeBackfill(common, {
    logger,
    logs: logReader,
    natives,
    watchingNative,
    nodeFailing: () => rpc.nodeFailing(),
    async commitRange(transfers, end) {
      await commit(async (trx) => {
        await sink.onBlocks(trx, transfers, end.number);
        await resetCursor(trx, chain, end);
      });
      tip = end;
      announceBlock({ number: end.number, hash: end.hash, transfers: transfers.length });
    },
    stop: stopController.signal,
  });

  /** Walks back through the stored blocks to the common ancestor, and removes what is above it. */
  async function resolveReorg(current: Tip) {
    const stored = await storedBlocksDescending(db, chain);
    let ancestor: Tip | undefined;
    for (const row of stored) {
      const onNode = await rpc.getBlockHeader(Number(row.number));
      // A block the node does not return says nothing (a lagging backend): only a different hash does.
      if (!onNode)
        throw new NotYetError(`block ${row.number} not found while looking for the common ancestor`);
      if (onNode.hash === row.hash) {
        ancestor = onNode;
        break;
      }
    }
    let newAnchor: Tip | undefined;
    if (!ancestor) {
      // Deeper than everything we kept: nothing to compare against. Restart from the node's block below
      // our lowest one; deposits above it are treated as removed and re-found if they are still there.
      const lowest = Number(stored.at(-1)?.number ?? current.number);
      newAnchor = (await rpc.getBlockHeader(Math.max(lowest - 1, 0))) ?? undefined;
      if (!newAnchor) throw new NotYetError('node has no block to re-anchor on after a deep reorganisation');
      ancestor = newAnchor;
      logger.error({ lowestKept: lowest }, 'reorganisation deeper than the kept blocks');
    }
    const anc = ancestor;
    const depth = current.number - anc.number;
    await commit(async (trx) => {
      if (newAnchor) await resetCursor(trx, chain, anc);
      else await removeBlocksAbove(trx, chain, anc.number);
      await sink.onReorg(trx, anc.number + 1);
    });
    logger.warn({ ancestor: anc.number, depth }, 'chain reorganisation');
    tip = anc;
    common.metrics.reorg(depth);
    for (const l of reorgListeners) l({ ancestor: anc.number, depth });
  }

  /**
   * One pass up to the node's head. A block the node does not return (null) is "not yet", never a
   * reorganisation: a provider's backends lag each other, so its head number may go back and a block it
   * announced may be missing from the next answer. Only a different hash at the same height is a
   * reorganisation.
   */
  async function syncToHead(): Promise<PassEnd> {
    // Between passes: the only place the node client may move to another node, so that the answers
    // of one block never come from two nodes.
    rpc.atSafePoint();
    // A new head above our tip was announced: its header and logs (by number) are asked for along with
    // the head number, one round trip instead of three. Both are checked like any others: the header's
    // parent hash below, the logs against the header in `blockLogs`.
    early = undefined;
    if (tip && announcedHead > tip.number) {
      const number = tip.number + 1;
      early = { number, header: rpc.getBlockHeader(number), logs: logReader.askBlockLogs(number) };
      early.header.catch(() => {}); // not used when the pass fails or takes a range first
    }
    const head = await rpc.getBlockNumber();
    nodeHead = head;
    let current = tip ?? (await loadTip());
    if (!current) current = await anchorAt((tuning.startBlock ?? head) - 1);
    tip = current;

    const rangeTarget = head - confirmHeight;
    if (rangeTarget - current.number > 1) {
      // Ranges carry no parent hashes: first make sure our tip is still canonical, or the blocks a
      // reorganisation replaced below it (while we were stopped or behind) would never be looked at.
      const onNode = await rpc.getBlockHeader(current.number);
      if (!onNode) return 'not-yet';
      if (onNode.hash !== current.hash) {
        await resolveReorg(current);
        signal(); // sync again at once, from the common ancestor
        return 'done';
      }
      await ranges.backfill(current, rangeTarget);
      current = tip;
    }
    while (!stopController.signal.aborted) {
      if (current.number >= nodeHead) {
        // Nothing new (or a head number behind ours: a lagging backend, not a reorganisation): make sure
        // our tip was not replaced by a chain of the same or smaller height.
        const onNode = await rpc.getBlockHeader(current.number);
        if (!onNode) return 'not-yet';
        if (onNode.hash === current.hash) return 'done';
        await resolveReorg(current);
        current = tip;
        nodeHead = await rpc.getBlockNumber();
        continue;
      }
      const asked = takeEarly(current.number + 1);
      const next: BlockHeader | null = await (asked?.header ?? rpc.getBlockHeader(current.number + 1));
      if (!next) return 'not-yet'; // announced, not yet served by the backend that answered
      if (next.parentHash !== current.hash) {
        await resolveReorg(current);
        current = tip;
        continue;
      }
      await processBlock(next, asked?.logs);
      current = next;
    }
    return 'done';
  }

  /** What was asked early in this pass about block `number`, if it is the one; asked at most once. */
  function takeEarly(number: number): AskedEarly | undefined {
    const asked = early;
    early = undefined;
    return asked?.number === number ? asked : undefined;
  }

  async function run() {
    let notYet = 0;
    while (!stopController.signal.aborted) {
      let end: PassEnd;
      try {
        end = await syncToHead();
        failures = 0;
      } catch (err) {
        if (!isNotYet(err)) {
          failures++;
          tip = undefined; // reload from the database: a failed commit must not leave memory ahead of it
          logger.warn({ err, failures }, 'watcher pass failed; retrying');
          await sleep(backoffMs(failures), stopController.signal);
          continue;
        }
        end = 'not-yet'; // thrown before a commit, never by one: the tip in memory is the stored one
        logger.debug({ err }, 'the node does not have it yet');
      }
      // A lagging backend is normal for a moment after a new head; say so only when it lasts.
      if (end === 'done') notYet = 0;
      else if (++notYet % 30 === 0) logger.warn({ passes: notYet }, 'the node keeps lagging behind its head');
      // Not yet: ask again soon, whether or not new heads arrive.
      await waker.wait(end === 'not-yet' || !heads?.isConnected() ? tuning.pollMs : tuning.slowPollMs);
    }
  }

  return {
    start() {
      if (deps.chain.wsUrl) {
        heads = subscribeHeads(
          { logger },
          {
            wsUrl: deps.chain.wsUrl,
            wsUrls: deps.chain.wsUrls,
            pingIntervalMs: tuning.wsPingMs,
            onHead: (number) => {
              announcedHead = Math.max(announcedHead, number);
              signal();
            },
            onStateChange: () => signal(),
          },
        );
      }
      loop = run();
    },
    async stop() {
      stopController.abort();
      heads?.close();
      await loop;
    },
    /** Wake the loop now (e.g. a test mined a block). */
    poke: signal,
    onBlock(listener: (e: BlockEvent) => void) {
      blockListeners.push(listener);
    },
    onReorg(listener: (e: ReorgEvent) => void) {
      reorgListeners.push(listener);
    },
    status(): WatcherStatus {
      const lag = tip && nodeHead !== undefined ? Math.max(nodeHead - tip.number, 0) : undefined;
      return {
        tip: tip?.number,
        nodeHead,
        lag,
        wsConnected: heads?.isConnected() ?? false,
        backfilling: ranges.isRunning(),
        caughtUp: lag !== undefined && lag <= 1 && !ranges.isRunning(),
      };
    },
  };
}
