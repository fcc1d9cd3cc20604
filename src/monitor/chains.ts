import type { Hex } from 'viem';
import type { ChainContext } from '../chain/context.js';
import type { WatcherStatus } from '../chain/watcher.js';
import type { ChainConfig } from '../config/types.js';
import type { Common, MetricHooks } from '../context/common.js';
import { errorMessage } from '../internal/errors.js';
import type { Metrics } from '../internal/metrics.js';
import type { ChainAlertInputs } from './alerts.js';
import { readCollectionBalances } from './balances.js';
import { createMetricHooks } from './hooks.js';
import type { ChainRunState, ChainSample } from './status.js';

/**
 * A chain as the monitor sees it (a lane of src/lane.ts): its config, where it is, and its parts once they
 * run (a chain whose node is down may have none yet).
 */
export interface MonitoredChain {
  name: string;
  config: ChainConfig;
  state(): ChainRunState;
  /** `watcher` is undefined while another instance watches the chain. */
  parts(): { context: ChainContext; watcher: { status(): WatcherStatus } | undefined } | undefined;
}

const NO_WATCHER: WatcherStatus = {
  tip: undefined,
  nodeHead: undefined,
  lag: undefined,
  wsConnected: false,
  backfilling: false,
  caughtUp: false,
};

/** What the monitor keeps per chain between samples. */
interface ChainTrack {
  chain: MonitoredChain;
  sample: ChainSample;
  /** Counts rpc errors of the balance reads under this chain's label. */
  hooks: MetricHooks;
  lastBalances: number;
  /** A balance read still waiting on the node: never two at once, and a sample never waits for one long. */
  reading: Promise<void> | undefined;
  /** When the monitor first saw the chain running: the node's silence is counted from there at most. */
  runningSince: number | undefined;
}

/**
 * The monitor's view of every configured chain, each on its own: where its lane is, its watcher, whether
 * its node answers, and its collection wallet's balances read from its own node. A chain whose node is
 * down keeps its last balances (with the error) and never holds back another chain's sample.
 */
export function createChainSampler(
  common: Pick<Common, 'options'>,
  deps: { chains: readonly MonitoredChain[]; metrics: Metrics; startedAt: number },
) {
  const tuning = common.options.monitor;
  const { startedAt } = deps;
  const tracks: ChainTrack[] = deps.chains.map((chain) => ({
    chain,
    hooks: createMetricHooks(deps.metrics, chain.name),
    lastBalances: 0,
    reading: undefined,
    runningSince: undefined,
    sample: {
      name: chain.name,
      chainId: chain.config.chainId,
      state: chain.state(),
      confirmHeight: chain.config.confirmHeight,
      watcher: NO_WATCHER,
      nodeDown: undefined,
      depositCounts: new Map(),
      payoutCounts: new Map(),
      collection: undefined,
      collectionAddress: chain.config.collectionAddressLc,
      balanceError: undefined,
    },
  }));

  /** Starts a read of the chain's collection balances when one is due and none is waiting on the node. */
  function readBalancesOf(t: ChainTrack, now: number): Promise<void> | undefined {
    const context = t.chain.parts()?.context;
    const address = t.sample.collectionAddress as Hex | undefined;
    if (!address) return undefined;
    if (!context) {
      t.sample.balanceError = 'the chain is not running: balances not read';
      return undefined;
    }
    if (t.reading || now - t.lastBalances < tuning.balanceMs) return t.reading;
    t.lastBalances = now;
    const chain = {
      name: t.chain.name,
      client: context.rpc.client,
      native: context.native,
      tokens: context.tokens,
    };
    t.reading = readCollectionBalances(chain, address, (method) => t.hooks.rpcError(method))
      .then((read) => {
        t.sample.collection = read;
        t.sample.balanceError = undefined;
      })
      .catch((err: unknown) => {
        t.sample.balanceError = errorMessage(err).split('\n')[0];
      })
      .finally(() => {
        t.reading = undefined;
      });
    return t.reading;
  }

  function nodeDown(t: ChainTrack, now: number): string | undefined {
    const seconds = (since: number) => Math.round((now - since) / 1000);
    switch (t.sample.state) {
      case 'stopped':
        return undefined;
      case 'failed':
        return 'the chain could not start (see the log and /ready)';
      case 'connecting':
        return now - startedAt > tuning.nodeDownMs
          ? `the node has not answered since the start (${seconds(startedAt)} s): the chain is not running`
          : undefined;
      case 'running': {
        const rpc = t.chain.parts()?.context.rpc;
        const since = Math.max(rpc?.lastOkAt() ?? 0, t.runningSince ?? startedAt);
        return now - since > tuning.nodeDownMs
          ? `the node has not answered for ${seconds(since)} s`
          : undefined;
      }
    }
  }

  return {
    /** The configured names, in config order. */
    names: tracks.map((t) => t.chain.name),
    /** The samples (the same objects every time: the monitor's state holds them). */
    samples: tracks.map((t) => t.sample),

    /**
     * Each chain's balances, read from its own node at once when due. Waits for them `waitMs` at most:
     * a node that hangs keeps its read going in the background.
     */
    async sampleBalances(now: number, waitMs: number): Promise<void> {
      // An instance that does not watch a chain (another one leads it) asks the node for its head at
      // each sample, as its watcher would: `node_down` then says whether its node answers.
      for (const t of tracks) {
        const parts = t.chain.parts();
        if (parts && !parts.watcher) parts.context.rpc.getBlockNumber().catch(() => undefined);
      }
      const reads = tracks.flatMap((t) => readBalancesOf(t, now) ?? []);
      if (reads.length === 0) return;
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, waitMs);
      });
      await Promise.race([Promise.allSettled(reads), waited]).finally(() => clearTimeout(timer));
    },

    /** Where each chain is now: its lane's state, its watcher, and whether its node answers. */
    sampleNow(now: number): void {
      for (const t of tracks) {
        const s = t.sample;
        const parts = t.chain.parts();
        s.state = t.chain.state();
        s.watcher = parts?.watcher?.status() ?? NO_WATCHER;
        if (parts) {
          s.chainId = parts.context.chainId;
          t.runningSince ??= now;
        }
        s.nodeDown = nodeDown(t, now);
      }
    },

    /** What the alerts about one chain look at. */
    alertInputs(): ChainAlertInputs[] {
      return tracks.map(({ chain, sample }) => ({
        chain: chain.name,
        native: chain.config.native,
        collectionGasRaw: sample.collection?.balances.find((b) => b.native)?.raw,
        watcherLag: sample.watcher.lag,
        nodeDown: sample.nodeDown,
      }));
    },
  };
}
