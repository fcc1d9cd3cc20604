/**
 * Table types for kysely. Block numbers are stored as BIGINT and read as JS numbers (safe far beyond
 * any chain height); amounts are decimal strings of base units (`*_raw`), never numbers. Times are
 * unix milliseconds. Addresses and hashes are lowercase 0x-hex.
 */
import type { ColumnType, Generated, Insertable, Kysely, Selectable, Updateable } from 'kysely';

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
  /**
   * What the row is about (`deposit:<tx hash>:<log ordinal>`, `<kind>:<queue_id>`): the relay keeps one
   * subject's rows in order. Null for a row that stands alone, and for rows from before migration 0007.
   */
  subject: string | null;
  created_at: number;
  sent_at: number | null;
}

/** The key vault: private keys encrypted under PAYMENT_MASTER_KEY (src/vault/). */
export interface WalletTable {
  /** Lowercase 0x-address; also the associated data its key is encrypted with. */
  address: string;
  /** `v1:<nonce hex>:<ciphertext hex>:<tag hex>` (AES-256-GCM); never a plaintext key. */
  encrypted_key: string;
  created_at: number;
}

/** The HD root (migration 0010): the BIP-39 seed, encrypted like a key (src/vault/hd.ts). One row. */
export interface HdRootTable {
  /** 'default'. */
  name: string;
  /** `v1:<nonce hex>:<ciphertext hex>:<tag hex>` of the 64-byte seed, bound to `first_address`. */
  encrypted_seed: string;
  /** The address at m/44'/60'/0'/0/0 (public): what the seed is bound to and checked against. */
  first_address: string;
  created_at: number;
}

/** A deposit address issued to a business user (migration 0010): derived at `hd_index`, never stored as a key. */
export interface IssuedAddressTable {
  hd_index: number;
  user_ref: string;
  /** Lowercase 0x-address. */
  address: string;
  created_at: number;
}

/** A running service process (migration 0013), its heartbeat written every second or two. */
export interface InstanceTable {
  /** Random, new at each start. */
  id: string;
  host: string;
  pid: number;
  /** `host:port` of its HTTP server, once listening. */
  http_addr: string | null;
  started_at: number;
  heartbeat_at: number;
}

/** Work only one instance may do at a time (migration 0013, src/cluster/lease.ts). Times are database time. */
export interface LeaseTable {
  /** `watcher:ETH`, `relay`, `sender:ETH:0x…`, … */
  name: string;
  /** The instance id, or null once released. */
  holder: string | null;
  /** The fencing token: raised each time the lease changes hands (or is taken again after it lapsed). */
  token: number;
  expires_at: number;
  acquired_at: number;
}

export interface Database {
  watched_addresses: WatchedAddressTable;
  deposits: DepositTable;
  chain_blocks: ChainBlockTable;
  outbox: OutboxTable;
  wallets: WalletTable;
  payouts: PayoutTable;
  payout_txs: PayoutTxTable;
  sender_nonces: SenderNonceTable;
  audit_log: AuditLogTable;
  hd_roots: HdRootTable;
  issued_addresses: IssuedAddressTable;
  instances: InstanceTable;
  leases: LeaseTable;
}

export type DepositRow = Selectable<DepositTable>;
export type NewDeposit = Insertable<DepositTable>;
export type DepositUpdate = Updateable<DepositTable>;
export type OutboxRow = Selectable<OutboxTable>;
export type NewOutbox = Insertable<OutboxTable>;

export type PayoutState =
  | 'held'
  | 'accepted'
  | 'batched'
  | 'signed'
  | 'sent'
  | 'unresolved'
  | 'mined'
  | 'confirmed'
  | 'failed';

/**
 * What a payout is: a business's withdrawal or payment (answered on its response queue), or one of the
 * service's own transactions, which nobody is answered about: a treasury transfer (`sweep`, `gas_topup`:
 * src/treasury/), a batch carrying withdrawals (`batch`) or the batcher's token allowance (`approve`:
 * src/payouts/batches.ts).
 */
export type PayoutKind = 'withdraw' | 'pay' | 'sweep' | 'gas_topup' | 'batch' | 'approve';

/** A withdrawal or payment (PROTOCOL §5), or a treasury transfer (a sweep, a gas top-up), keyed by its queue_id. */
export interface PayoutTable {
  queue_id: string;
  kind: PayoutKind;
  order_id: string | null;
  /** The chain as the request spelled it, echoed in the answer. */
  chain: string;
  /**
   * The configured name of the chain (migration 0009): the payout engine of that chain is the only one
   * that reads or moves the payout. A refused request naming no configured chain keeps its spelling.
   */
  chain_name: string;
  symbol: string;
  /** The token's contract, or NATIVE_ADDRESS_LC (src/config/chains.ts) for the native coin. */
  token_address: string;
  /** The wallet the request asked to pay from. */
  from_address: string;
  to_address: string;
  amount_raw: string;
  /** The amount as a normalised decimal, for the response. */
  amount_text: string;
  state: PayoutState;
  /** The wallet that pays (from_address or the collection wallet), once chosen. */
  sender: string | null;
  nonce: number | null;
  gas_limit: string | null;
  /** Hash of the latest transaction sent, or of the one mined. */
  tx_hash: string | null;
  /** Head block when the latest transaction was broadcast: replacement timing. */
  last_sent_block: number | null;
  mined_block: number | null;
  mined_block_hash: string | null;
  /** 1 when the mined transaction reverted. */
  reverted: number;
  fee_wei: string | null;
  error_code: string | null;
  error_message: string | null;
  /**
   * Migration 0012. On a `batch` or an `approve`: its exact calldata (to `to_address`, no value). Null for a
   * plain transfer, whose call follows from token, recipient and amount.
   */
  call_data: string | null;
  /**
   * Migration 0012. On a withdrawal or payment: the queue_id of the batch that carries (or carried) it.
   * An `accepted` payout with one was in a batch that never went out: it is then paid on its own.
   */
  batch_id: string | null;
  /**
   * Migration 0014. The wallet whose sender lease owns the payout (src/payouts/claims.ts): the requested
   * wallet, or the collection wallet once it pays instead. Null until an engine routes it.
   */
  route: string | null;
  /** Raised by every write of the state; conditional moves compare it (src/payouts/state.ts). */
  version: Generated<number>;
  created_at: number;
  updated_at: number;
}

/** Every transaction signed for a payout: the first, and each replacement with the same nonce. */
export interface PayoutTxTable {
  tx_hash: string;
  queue_id: string;
  /**
   * The configured chain (migration 0009): a wallet's nonces are per chain. Every row the service writes
   * names it; the column's default (`ETH`) is for the rows from before.
   */
  chain_name: ColumnType<string, string | undefined, string>;
  sender: string;
  nonce: number;
  raw_tx: string;
  max_fee_per_gas: string | null;
  max_priority_fee_per_gas: string | null;
  gas_price: string | null;
  created_at: number;
}

/** The next nonce of a wallet on a chain (migration 0009 keyed it by chain too). */
export interface SenderNonceTable {
  chain_name: string;
  address: string;
  next_nonce: number;
}

export type PayoutRow = Selectable<PayoutTable>;
/** A new payout row: every column but the version, which starts at 0. */
export type NewPayout = Omit<PayoutTable, 'version' | 'call_data' | 'batch_id' | 'route'> &
  Partial<Pick<PayoutTable, 'call_data' | 'batch_id' | 'route'>>;
export type PayoutTxRow = Selectable<PayoutTxTable>;

/**
 * One state change of a deposit or a payout (src/audit/). Append-only: rows are inserted with the
 * change they record and never updated or deleted.
 */
export interface AuditLogTable {
  id: Generated<number>;
  subject: 'deposit' | 'payout';
  /** The payout's queue_id, or the deposit's `tx_hash:tx_log_ordinal`. */
  ref: string;
  tx_hash: string | null;
  /** null when the subject was created by this change. */
  from_state: string | null;
  /** A state, or an event that keeps the state: `replaced` (a payout re-signed with higher fees). */
  to_state: string;
  block_number: number | null;
  /** Short JSON: sender, nonce, fees, error code, the block a reorganisation removed. */
  detail: string | null;
  created_at: number;
}

export type AuditLogRow = Selectable<AuditLogTable>;

/** The database, or a transaction of it: every repository operation takes either. */
export type Db = Kysely<Database>;
