import { type ChainContext, createChainContext, readChainId } from './chain/context.js';
import { createChainRpc } from './chain/rpc.js';
import { type BlockEvent, type BlockWatcher, createBlockWatcher } from './chain/watcher.js';
import type { ChainConfig } from './config/types.js';
import type { Common, MetricHooks } from './context/common.js';
import { createDepositTracker } from './deposits/tracker.js';
import { errorMessage, PaymentError } from './internal/errors.js';
import { createPayoutEngine, type PayoutEngine } from './payouts/engine.js';
import { createSweeper, type Sweeper } from './treasury/sweeper.js';
import type { Db } from './store/schema.js';
import type { Vault } from './vault/vault.js';

/** Where a chain's lane is: its parts run only once the node has shown it is on the configured chain. */
export type LaneState = 'connecting' | 'running' | 'failed' | 'stopped';

export interface ChainLaneDeps {
  db: Db;
  chain: ChainConfig;
  /** The metric hooks with this chain's label. */
  metrics: MetricHooks;
  signKey: string;
  vault: Vault;
  /** After a commit that wrote outbox rows (wakes the relay). */
  afterCommit: () => void;
}

export type ChainLane = ReturnType<typeof createChainLane>;

/**
 * One chain's parts: its context, block watcher, deposit tracker and payout engine. Every chain is one
 * lane, and a lane's trouble stays its own: a node that is down keeps its lane `connecting` (or its
 * watcher retrying) while the other chains run. `connect` asks the node for its chain id (retried until
 * it answers) and refuses a node on another chain than the configured one; only then are the parts
 * made, so nothing is ever signed with a chain id the node does not have.
 */
export function createChainLane(common: Common, deps: ChainLaneDeps) {
  const { chain } = deps;
  const laneCommon: Common = { ...common, metrics: deps.metrics };
  const logger = common.logger.child({ chain: chain.name });
  let state: LaneState = 'connecting';
  let failure: string | undefined;
  let parts:
    | { context: ChainContext; watcher: BlockWatcher; payouts: PayoutEngine; sweeper: Sweeper | undefined }
    | undefined;
  let stopped = false;
  /** Listeners of the watcher's blocks, taken before the watcher exists (a lane connects later). */
  const blockListeners: ((e: BlockEvent) => void)[] = [];

  /**
   * Resolves once the lane runs; rejects with `chain_id_mismatch` when the node is on another chain, or
   * when `signal` aborts first (the service stops).
   */
  async function connect(signal: AbortSignal): Promise<void> {
    try {
      // The chain id first, through a node client of its own: the context is made with the id it signs with.
      const probe = {
        name: chain.name,
        rpc: createChainRpc(laneCommon, { rpcUrls: chain.rpcUrls, chain: chain.name }),
      };
      const actual = await readChainId(laneCommon, probe, signal);
      if (chain.chainId !== undefined && actual !== chain.chainId) {
        throw new PaymentError(
          'chain_id_mismatch',
          `chain ${chain.name}: the config says chain id ${chain.chainId} but its node is on chain ${actual}`,
        );
      }
      if (stopped) return;
      const context = await createChainContext(laneCommon, { ...chain, chainId: actual });
      const tracker = createDepositTracker(laneCommon, {
        chain: context,
        signKey: deps.signKey,
        afterCommit: deps.afterCommit,
      });
      const watcher = createBlockWatcher(laneCommon, { db: deps.db, chain: context, sink: tracker });
      const payouts = createPayoutEngine(laneCommon, {
        db: deps.db,
        chain: context,
        signKey: deps.signKey,
        vault: deps.vault,
        afterCommit: deps.afterCommit,
      });
      watcher.onBlock(() => payouts.poke());
      watcher.onReorg(() => payouts.poke(true));
      for (const listener of blockListeners) watcher.onBlock(listener);
      const { sweep, collectionAddressLc } = chain;
      const sweeper =
        sweep && collectionAddressLc
          ? createSweeper(laneCommon, {
              db: deps.db,
              chain: { ...chain, sweep, collectionAddressLc },
              client: context.client,
              vault: deps.vault,
              pokePayouts: () => payouts.poke(),
            })
          : undefined;
      parts = { context, watcher, payouts, sweeper };
      watcher.start();
      payouts.start();
      sweeper?.start();
      state = 'running';
      // Requests that came while the lane was connecting are in the database: look at them now.
      payouts.poke();
      logger.info(
        {
          chainId: actual,
          confirmHeight: chain.confirmHeight,
          native: chain.native.symbol,
          tokens: chain.tokens.map((t) => `${t.symbol}@${t.addressLc}`),
        },
        'chain running',
      );
    } catch (err) {
      if (!stopped) {
        state = 'failed';
        failure = errorMessage(err);
      }
      throw err;
    }
  }

  return {
    name: chain.name,
    config: chain,
    connect,
    state: () => state,
    /** The running parts; undefined while the lane connects or after it failed. */
    parts: () => parts,
    /** Calls `listener` with every block the chain's watcher processes, from when the lane runs. */
    onBlock(listener: (e: BlockEvent) => void) {
      blockListeners.push(listener);
      parts?.watcher.onBlock(listener);
    },
    /** A payout request for this chain was committed: the engine looks at once. */
    pokePayouts() {
      parts?.payouts.poke();
    },
    /** Why the lane is not ready, or undefined when it is (for `/ready`). */
    async readiness(): Promise<string | undefined> {
      if (state === 'failed') return `failed: ${failure ?? 'unknown error'}`;
      if (!parts) return 'connecting to the node (reading its chain id)';
      await parts.context.rpc.getBlockNumber();
      const s = parts.watcher.status();
      if (s.caughtUp) return undefined;
      return s.backfilling
        ? `backfilling (block ${s.tip ?? '?'} of ${s.nodeHead ?? '?'})`
        : `behind the head by ${s.lag ?? '?'} blocks`;
    },
    async stop(): Promise<void> {
      stopped = true;
      state = 'stopped';
      if (!parts) return;
      await parts.sweeper?.stop();
      await parts.payouts.stop();
      await parts.watcher.stop();
    },
  };
}
