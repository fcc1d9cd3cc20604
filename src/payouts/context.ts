import type { PublicClient } from 'viem';
import type { ChainContext } from '../chain/context.js';
import type { Leases } from '../cluster/lease.js';
import type { Db } from '../store/schema.js';
import type { Vault } from '../vault/vault.js';
import type { Fees } from './fees.js';
import type { TransactionBuilders } from './transactions.js';

export interface PayoutEngineDeps {
  db: Db;
  chain: ChainContext;
  /** The message-signing secret, for the answers. */
  signKey: string;
  vault: Pick<Vault, 'has' | 'signTransaction'>;
  /** After a commit that wrote answers (wake the outbox relay). */
  afterCommit?: () => void;
  /** This instance's leases: the engine sends for the wallets whose sender leases it holds (claims.ts). */
  leases: Leases;
}

/**
 * What the parts of the payout worker (src/payouts/sign.ts, broadcast.ts, track.ts) take besides the
 * Common: the engine's dependencies and the helpers it keeps for them.
 */
export interface PayoutParts {
  db: Db;
  chain: ChainContext;
  client: PublicClient;
  signKey: string;
  vault: PayoutEngineDeps['vault'];
  afterCommit(): void;
  /** Fee suggestion for this head (cached per head). */
  fees(head: number): Promise<Fees>;
  /** Wake the worker; `recheck` looks at receipts again at the same head. */
  poke(recheck?: boolean): void;
  transactions: TransactionBuilders;
  /** The wallets this instance sends for now: every read of payouts to work on names them. */
  routes(): string[];
  /** Payouts were routed on to another wallet: claim it at the next pass if nobody holds it. */
  claimSoon(): void;
  /**
   * A write about these wallets' payouts, in one transaction fenced by their sender leases: it throws
   * `lease_lost`, writing nothing, once another instance may send for one of them.
   */
  write<T>(wallets: Iterable<string | null>, work: (trx: Db) => Promise<T>): Promise<T>;
}
