/**
 * Table types for kysely. Block numbers are stored as BIGINT and read as JS numbers (safe far beyond
 * any chain height); amounts are decimal strings of base units (`*_raw`), never numbers. Times are
 * unix milliseconds. Addresses and hashes are lowercase 0x-hex.
 */
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface WatchedAddressTable {
  chain: string;
  symbol: string;
  address: string;
  created_at: number;
}

export type DepositStatus = 'pending' | 'orphaned' | 'confirmed' | 'failed';

export interface DepositTable {
  id: Generated<number>;
  chain: string;
  symbol: string;
  token_address: string;
  tx_hash: string;
  /** Position of this transfer among the token Transfer logs of its transaction: with tx_hash, the
   * transfer's identity, stable when a reorganisation moves the transaction to another block. */
  tx_log_ordinal: number;
  log_index: number;
  block_number: number;
  block_hash: string;
  from_address: string;
  to_address: string;
  amount_raw: string;
  status: DepositStatus;
  /** First block height removed by the reorganisation that orphaned it. */
  orphaned_at: number | null;
  created_at: number;
  updated_at: number;
}

/** The recent, unfinalised blocks the watcher has processed; the highest is its cursor. */
export interface ChainBlockTable {
  chain: string;
  number: number;
  hash: string;
  parent_hash: string;
}

export interface OutboxTable {
  id: Generated<number>;
  /** What the message answers: 'topup' | 'withdraw' | 'pay'. */
  topic: string;
  exchange: string;
  routing_key: string;
  /** The exact JSON text to publish. */
  body: string;
  created_at: number;
  sent_at: number | null;
}

export interface Database {
  watched_addresses: WatchedAddressTable;
  deposits: DepositTable;
  chain_blocks: ChainBlockTable;
  outbox: OutboxTable;
}

export type DepositRow = Selectable<DepositTable>;
export type NewDeposit = Insertable<DepositTable>;
export type DepositUpdate = Updateable<DepositTable>;
export type OutboxRow = Selectable<OutboxTable>;
export type NewOutbox = Insertable<OutboxTable>;
