/** The validated, normalised configuration the service runs on (see PROTOCOL.md §1–§2). */

export interface QueueConfig {
  queue: string;
  exchange: string;
  /** At least one routing key; responses are published with the first. */
  routing: string[];
}

export interface TokenConfig {
  symbol: string;
  /** Lowercase 0x-address of the ERC-20 contract. */
  addressLc: `0x${string}`;
  decimals: number;
}

export interface MysqlDbConfig {
  driver: 'mysql';
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  maxOpenConns: number;
  /** Seconds a pooled connection may live (v2 `connMaxLife`). */
  connMaxLifeS: number;
}

export interface SqliteDbConfig {
  driver: 'sqlite';
  /** Path of the database file. */
  file: string;
}

export type DbConfig = MysqlDbConfig | SqliteDbConfig;

/** Two levels of one threshold: each fires when the value is above it. */
export interface AlertLevels {
  warning: number;
  critical: number;
}

/** When the service raises alerts (config.json `alerts`, optional; the v2 "告警阈值" are the defaults). */
export interface AlertsConfig {
  /** Transactions not final yet: pending deposits plus payouts in flight. */
  pending: AlertLevels;
  /** Messages waiting in a service queue, in percent of `queueCapacity`. */
  queueUsagePct: AlertLevels;
  /** Failed payouts among those finished in the last hour, in percent (request refusals not counted). */
  failureRatePct: AlertLevels;
  /** Resident memory in percent of the memory available to the process (cgroup limit or RAM). */
  memoryPct: AlertLevels;
  /** CPU time in percent of one core (Node runs its JavaScript on one thread). */
  cpuPct: AlertLevels;
  /** Messages a queue may hold before it counts as full (100% usage). */
  queueCapacity: number;
  /** The collection wallet's native balance below this fires `collection_gas`; 0 turns it off. */
  collectionGasFloorWei: bigint;
  /** The watcher more than this many blocks behind the node fires `watcher_lag`. */
  watcherLagBlocks: number;
  /** A payout signed or broadcast longer ago than this and still not in a block fires `payout_stuck`. */
  payoutStuckMinutes: number;
}

/** A chain's own coin, paid as a transaction's value and spent as its fee. */
export interface NativeCoinConfig {
  /** The `symbol` requests name it by ("ETH", "BNB"); no token of its chain has it (in any letter case). */
  symbol: string;
  decimals: number;
}

/**
 * The withdrawal policy of one asset (token or native coin) of a chain (`policies.SYMBOL`, PROTOCOL
 * §2.11). Every limit is optional; amounts are base units of the asset, inclusive (a request of exactly
 * the limit passes).
 */
export interface AssetPolicy {
  /** The largest amount one withdraw or pay request may ask for. */
  maxPerRequestRaw?: bigint;
  /** The most that may be requested from one `from_address` in 24 hours (rolling), this request included. */
  dailyMaxPerFromRaw?: bigint;
  /** The most that may be requested of the asset on the chain in 24 hours (rolling), this request included. */
  dailyMaxTotalRaw?: bigint;
  /** When set, the only recipients allowed (lowercase addresses). */
  allowToLc?: readonly string[];
  /** A request for more than this is held for the operator's `payout approve` / `payout reject`. */
  approvalAboveRaw?: bigint;
}

/** One EVM chain: `eth_config` (the chain `ETH`) or an entry of the top-level `chains` object. */
export interface ChainConfig {
  /** The `chain` value of messages this chain answers to: "ETH", or the key in `chains` ("BSC"). */
  name: string;
  /** When set, checked against the node at start. Always set for an entry of `chains`. */
  chainId: number | undefined;
  /** `rpcUrls[0]`. */
  rpcUrl: string;
  /** `wsUrls[0]`. */
  wsUrl: string;
  /** HTTP JSON-RPC URLs, in order of preference: `rpcUrl`, then `rpcUrls`, without repeats; at least one. */
  rpcUrls: string[];
  /** WebSocket URLs, in order of preference: `wsUrl`, then `wsUrls`, without repeats; at least one. */
  wsUrls: string[];
  confirmHeight: number;
  /** The native coin; `{ symbol: 'ETH', decimals: 18 }` unless configured. */
  native: NativeCoinConfig;
  tokens: TokenConfig[];
  /** Lowercase collection (hot) wallet address, when configured. */
  collectionAddressLc: `0x${string}` | undefined;
  /** Payout fee cap: maxFeePerGas (or the legacy gas price) never goes above it (`maxFeeGwei`). */
  maxFeePerGasWei: bigint;
  /** A payout not mined after this many blocks is replaced with higher fees (`replaceAfterBlocks`). */
  replaceAfterBlocks: number;
  /**
   * Withdrawal policies (`policies`), keyed by the configured symbol of a token or of the native coin.
   * Absent, or an asset not in it: no limit.
   */
  policies?: Readonly<Record<string, AssetPolicy>>;
  /** Sweeping the issued deposit wallets into the collection wallet (`sweep`, PROTOCOL §2.12). Absent: none. */
  sweep?: SweepConfig;
  /** Paying the collection wallet's token withdrawals in batches (`batch`, PROTOCOL §2.13). Absent: none. */
  batch?: BatchConfig;
}

/**
 * A chain's `batch` section (src/config/batch.ts): the collection wallet's token withdrawals gathered into
 * one transaction to the batcher contract (contracts/Batcher.sol, src/batch/). Enabled, it has its address.
 */
export type BatchConfig = {
  /** A batch is sent once it has this many payments (2 to 500). */
  maxSize: number;
  /** ...or once its first payment has waited this long (0: whatever is ready is sent at once). */
  maxWaitMs: number;
} & (
  | {
      enabled: true;
      /** Lowercase address of the batcher contract. */
      addressLc: `0x${string}`;
    }
  | {
      /** Configured but off: every payment is its own transaction. */
      enabled: false;
      addressLc?: `0x${string}`;
    }
);

/**
 * A chain's `sweep` section (src/config/sweep.ts): which deposit-wallet balances are moved to the
 * collection wallet, and when. Amounts are base units of their asset, keyed by its configured symbol.
 */
export interface SweepConfig {
  /** False: configured but paused (the plan still shows, nothing is swept). */
  enabled: boolean;
  intervalSeconds: number;
  /** A wallet is swept of an asset once what it can spare of it reaches this; an asset not listed is never swept. */
  minAmountRaw: Readonly<Record<string, bigint>>;
  /** A round is skipped while the chain's current fee (base fee + tip, or gas price) is above this. */
  maxFeePerGasWei: bigint;
  /** What a sweep leaves behind of an asset (0 when not listed). */
  keepDustRaw: Readonly<Record<string, bigint>>;
  /** Lowercase wallet that pays the gas top-ups: `gasWallet`, else the collection wallet. */
  gasWalletLc: `0x${string}`;
}

export interface Config {
  rmq: {
    url: string;
    topup: QueueConfig;
    withdraw: QueueConfig;
    pay: QueueConfig;
    topupResp: QueueConfig;
    withdrawResp: QueueConfig;
    payResp: QueueConfig;
    /**
     * Address requests and their answers (`rmq_config.address` / `address_resp`, optional, both or
     * neither): deposit addresses issued per business user (src/treasury/). Absent: no such queue.
     */
    address?: QueueConfig;
    addressResp?: QueueConfig;
  };
  /** The chain of `eth_config`, named `ETH`: the one the service runs today. The same object as `chains[0]`. */
  chain: ChainConfig;
  /**
   * Every configured chain: `eth_config` first (`ETH`), then the entries of the top-level `chains`
   * object in file order. Names differ ignoring letter case; configured chain ids differ.
   */
  chains: ChainConfig[];
  db: DbConfig;
  http: { host: string; port: number };
  /** Seconds a request's timestamp may be from now; 0 turns the check off. */
  signWindowS: number;
  alerts: AlertsConfig;
}
