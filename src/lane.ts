import { type ChainContext, createChainContext, readChainId } from './chain/context.js';
import { createChainRpc } from './chain/rpc.js';
import { type BlockEvent, type BlockWatcher, createBlockWatcher } from './chain/watcher.js';
import type { Holding, LeaseRole, Leases } from './cluster/lease.js';
import type { ChainConfig } from './config/types.js';
import type { Common, MetricHooks } from './context/common.js';
import { createDepositTracker } from './deposits/tracker.js';
import { errorMessage, PaymentError } from './internal/errors.js';
import { createPayoutEngine, type PayoutEngine } from './payouts/engine.js';
import type { Db } from './store/schema.js';
import { createSweeper, type Sweeper } from './treasury/sweeper.js';
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
  /**
   * This instance's leases: the lane's watcher and sweeper run only while it holds theirs, its payout
   * engine sends for the wallets whose sender leases it holds.
   */
  leases: Leases;
}

export type ChainLane = ReturnType<typeof createChainLane>;

/**
 * One chain's parts: its context, block watcher, deposit tracker and payout engine. Every chain is one
 * lane, and a lane's trouble stays its own: a node that is down keeps its lane `connecting` (or its
 * watcher retrying) while the other chains run. `connect` asks the node for its chain id (retried until
 * it answers) and refuses a node on another chain than the configured one; only then are the parts
 * made, so nothing is ever signed with a chain id the node does not have.
 *
 * With several instances on one database, one of them watches the chain: the watcher and deposit tracker
 * run while this instance holds the lease `watcher:<CHAIN>`, each of their transactions fenced by it, and
 * are made anew from the stored cursor at each term; the sweeper runs under `sweeper:<CHAIN>`. The payout
 * engine runs on every instance and sends for the wallets it claims (`sender:<CHAIN>:<wallet>`,
 * src/payouts/claims.ts), so payouts from different wallets go out from different instances. A lane
 * without the watcher's lease is a standby for it: its context answers `/ready`, and it takes the lease
 * over when the holder stops renewing it.
 */
export function createChainLane(common: Common, deps: ChainLaneDeps) {
  const { chain } = deps;
  const laneCommon: Common = { ...common, metrics: deps.metrics };
  const logger = common.logger.child({ chain: chain.name });
  let state: LaneState = 'connecting';
  let failure: string | undefined;
  let context: ChainContext | undefined;
  let watcher: BlockWatcher | undefined;
  let payouts: PayoutEngine | undefined;
  let sweeper: Sweeper | undefined;
  let holdings: Holding[] = [];
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
      const made = await createChainContext(laneCommon, { ...chain, chainId: actual });
      if (stopped) return;
      context = made;
      const engine = createPayoutEngine(laneCommon, {
        db: deps.db,
        chain: made,
        signKey: deps.signKey,
        vault: deps.vault,
        afterCommit: deps.afterCommit,
        leases: deps.leases,
      });
      payouts = engine;
      engine.start();
      holdings = [deps.leases.hold(`watcher:${chain.name}`, watcherRole(made))];
      const sweepRole = sweeperRole(made);
      if (sweepRole) holdings.push(deps.leases.hold(`sweeper:${chain.name}`, sweepRole));
      // The first try of each lease: a single instance (or the first of several) runs the parts from here.
      await Promise.all(holdings.map((h) => h.settled));
      if (stopped) return;
      state = 'running';
      logger.info(
        {
          chainId: actual,
          confirmHeight: chain.confirmHeight,
          native: chain.native.symbol,
          tokens: chain.tokens.map((t) => `${t.symbol}@${t.addressLc}`),
          roles: holdings.filter((h) => h.held()).map((h) => h.name),
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

  /** The watcher and deposit tracker, made at each term of `watcher:<CHAIN>` from the stored cursor. */
  function watcherRole(made: ChainContext): LeaseRole {
    return {
      start(term) {
        const tracker = createDepositTracker(laneCommon, {
          chain: made,
          signKey: deps.signKey,
          afterCommit: deps.afterCommit,
        });
        const w = createBlockWatcher(laneCommon, {
          db: deps.db,
          chain: made,
          sink: tracker,
          fence: term.fence,
        });
        w.onBlock(() => payouts?.poke());
        w.onReorg(() => payouts?.poke(true));
        for (const listener of blockListeners) w.onBlock(listener);
        watcher = w;
        w.start();
      },
      async stop() {
        const w = watcher;
        watcher = undefined;
        await w?.stop();
      },
    };
  }

  /** The sweeper (src/treasury/), made at each term of `sweeper:<CHAIN>`, when the chain has a sweep section. */
  function sweeperRole(made: ChainContext): LeaseRole | undefined {
    const { sweep, collectionAddressLc } = chain;
    if (!sweep || !collectionAddressLc) return undefined;
    return {
      start(term) {
        sweeper = createSweeper(laneCommon, {
          db: deps.db,
          chain: { ...chain, sweep, collectionAddressLc },
          client: made.client,
          vault: deps.vault,
          pokePayouts: () => payouts?.poke(),
          fence: term.fence,
        });
        sweeper.start();
      },
      async stop() {
        const s = sweeper;
        sweeper = undefined;
        await s?.stop();
      },
    };
  }

  return {
    name: chain.name,
    config: chain,
    connect,
    state: () => state,
    /**
     * The running parts; undefined while the lane connects or after it failed. `watcher` and `payouts`
     * are undefined while another instance holds their lease.
     */
    parts: () => (context && state === 'running' ? { context, watcher, payouts, sweeper } : undefined),
    /** The leases this lane holds now (`watcher:ETH`, `sweeper:ETH`, `sender:ETH:0x…`). */
    roles: () => holdings.filter((h) => h.held()).map((h) => h.name),
    /** Calls `listener` with every block the chain's watcher processes, from when the lane runs. */
    onBlock(listener: (e: BlockEvent) => void) {
      blockListeners.push(listener);
      watcher?.onBlock(listener);
    },
    /** A payout request for this chain was committed: the engine looks at once (if it runs here). */
    pokePayouts() {
      payouts?.poke();
    },
    /** Why the lane is not ready, or undefined when it is (for `/ready`). */
    async readiness(): Promise<string | undefined> {
      if (state === 'failed') return `failed: ${failure ?? 'unknown error'}`;
      if (!context) return 'connecting to the node (reading its chain id)';
      await context.rpc.getBlockNumber();
      // A standby for this chain's watcher: ready once its node answers.
      if (!watcher) return undefined;
      const s = watcher.status();
      if (s.caughtUp) return undefined;
      return s.backfilling
        ? `backfilling (block ${s.tip ?? '?'} of ${s.nodeHead ?? '?'})`
        : `behind the head by ${s.lag ?? '?'} blocks`;
    },
    async stop(): Promise<void> {
      stopped = true;
      state = 'stopped';
      // Each lease's work stopped first, then the lease given up for a standby to take at once.
      await Promise.all([...holdings.map((h) => h.release()), payouts?.stop()]);
    },
  };
}
