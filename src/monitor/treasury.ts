import type { ChainConfig } from '../config/types.js';
import type { TreasuryState } from '../treasury/sweeper.js';
import type { SweepAlertInputs } from './alerts.js';
import type { WalletBalances } from './balances.js';

/** What the monitor last read of a chain's collection wallet (src/monitor/status.ts's ChainSample). */
export interface CollectionSample {
  name: string;
  collectionAddress: string | undefined;
  collection: WalletBalances | undefined;
}

/**
 * A chain as the treasury panel reads it: a lane (src/lane.ts), whose sweeper exists only while this
 * instance holds the chain's `sweeper:<CHAIN>` lease and the chain runs.
 */
export interface SweptChain {
  name: string;
  config: ChainConfig;
  parts(): { sweeper?: { state(): TreasuryState } | undefined } | undefined;
}

/** One swept chain's entry of `/status`'s `treasury` (docs/PROTOCOL.md §12.2). */
export interface TreasuryStatus {
  chain: string;
  /** Whether the chain's sweeper runs in this instance; when false, the round fields below are empty. */
  running: boolean;
  /** The native coin's symbol: the gas wallet's amounts are in it. */
  native: string;
  enabled: boolean;
  intervalSeconds: number;
  lastRoundAt: number | null;
  nextRoundAt: number | null;
  lastSweepAt: number | null;
  lastRound: string | null;
  held: Record<string, string>;
  walletsAbove: number;
  gasWallet: { address: string; balance: string; needed: string; canFund: boolean } | null;
  collection: { address: string; balances: Record<string, string>; readAt: number | null } | null;
}

/**
 * The treasury of every chain with a `sweep` section, read from its sweeper's in-memory state (no query,
 * no node call): the sweeper keeps what its last round planned, and the collection wallet's balances are
 * the ones the monitor already read for the chain's row.
 */
export function createTreasuryView(chains: readonly SweptChain[]) {
  const swept = chains.filter((c) => c.config.sweep !== undefined);
  const stateOf = (c: SweptChain) => c.parts()?.sweeper?.state();

  return {
    /** `/status`'s `treasury`: one entry per swept chain, in config order. */
    status(samples: readonly CollectionSample[]): TreasuryStatus[] {
      return swept.map((c) => {
        const state = stateOf(c);
        const sample = samples.find((s) => s.name === c.name);
        const address = sample?.collectionAddress ?? c.config.collectionAddressLc;
        return {
          chain: c.name,
          running: state !== undefined,
          native: c.config.native.symbol,
          enabled: state?.enabled ?? c.config.sweep?.enabled ?? false,
          intervalSeconds: state?.intervalSeconds ?? c.config.sweep?.intervalSeconds ?? 0,
          lastRoundAt: state?.lastRoundAt ?? null,
          nextRoundAt: state?.nextRoundAt ?? null,
          lastSweepAt: state?.lastSweepAt ?? null,
          lastRound: state?.lastRound ?? null,
          held: state?.held ?? {},
          walletsAbove: state?.walletsAbove ?? 0,
          gasWallet: state?.gasWallet ?? null,
          collection:
            address === undefined
              ? null
              : {
                  address,
                  balances: Object.fromEntries(
                    (sample?.collection?.balances ?? []).map((b) => [b.symbol, b.amount]),
                  ),
                  readAt: sample?.collection?.readAt ?? null,
                },
        };
      });
    },

    /** What the `sweep_gas` alert looks at: the chains whose sweeper runs here. */
    alertInputs(): SweepAlertInputs[] {
      return swept.flatMap((c) => {
        const state = stateOf(c);
        return state
          ? [
              {
                chain: c.name,
                symbol: c.config.native.symbol,
                enabled: state.enabled,
                gasWallet: state.gasWallet,
              },
            ]
          : [];
      });
    },
  };
}

export type TreasuryView = ReturnType<typeof createTreasuryView>;
