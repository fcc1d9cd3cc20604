import type { Kysely } from 'kysely';
import type { PublicClient } from 'viem';
import type { Config } from '../config/types.js';
import type { Logger } from '../internal/logger.js';
import type { Database, PayoutRow } from '../store/schema.js';
import type { Vault } from '../vault/vault.js';
import type { Fees } from './fees.js';
import type { TransactionBuilders } from './transactions.js';

export interface PayoutTuning {
  /** Accepted payouts taken per pass. */
  batchSize: number;
  /** Gas limit = estimate × (100 + margin) / 100. */
  gasMarginPct: number;
  /** Gas assumed for the funds check before the estimate is known. */
  gasGuess: bigint;
  /** Pass interval when nothing wakes the worker (ms). */
  pollMs: number;
}

export const defaultPayoutTuning: PayoutTuning = {
  batchSize: 200,
  gasMarginPct: 20,
  gasGuess: 100_000n,
  pollMs: 1_000,
};

export interface CreatePayoutEngineOptions {
  logger: Logger;
  db: Kysely<Database>;
  client: PublicClient;
  config: Config;
  chainId: number;
  signKey: string;
  vault: Pick<Vault, 'has' | 'signTransaction'>;
  /** After a commit that wrote responses (wake the outbox relay). */
  afterCommit?: () => void;
  onTransition?: (from: string, to: string, row: Pick<PayoutRow, 'queue_id'>) => void;
  tuning?: Partial<PayoutTuning>;
}

/** What the parts of the payout worker share (src/payouts/sign.ts, broadcast.ts, track.ts). */
export interface EngineContext
  extends Pick<
    CreatePayoutEngineOptions,
    'db' | 'client' | 'config' | 'chainId' | 'signKey' | 'vault' | 'logger'
  > {
  tuning: PayoutTuning;
  options: Pick<CreatePayoutEngineOptions, 'afterCommit' | 'onTransition'>;
  /** Fee suggestion for this head (cached per head). */
  fees(head: number): Promise<Fees>;
  /** Wake the worker; `recheck` looks at receipts again at the same head. */
  poke(recheck?: boolean): void;
  transactions: TransactionBuilders;
}
