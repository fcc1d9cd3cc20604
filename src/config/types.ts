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

export interface Config {
  rmq: {
    url: string;
    topup: QueueConfig;
    withdraw: QueueConfig;
    pay: QueueConfig;
    topupResp: QueueConfig;
    withdrawResp: QueueConfig;
    payResp: QueueConfig;
  };
  chain: {
    /** The `chain` value of messages this chain answers to: "ETH". */
    name: string;
    /** When set, checked against the node at start. */
    chainId: number | undefined;
    rpcUrl: string;
    wsUrl: string;
    confirmHeight: number;
    tokens: TokenConfig[];
    /** Lowercase collection (hot) wallet address, when configured. */
    collectionAddressLc: `0x${string}` | undefined;
    /** Payout fee cap: maxFeePerGas (or the legacy gas price) never goes above it (`eth_config.maxFeeGwei`). */
    maxFeePerGasWei: bigint;
    /** A payout not mined after this many blocks is replaced with higher fees (`eth_config.replaceAfterBlocks`). */
    replaceAfterBlocks: number;
  };
  db: DbConfig;
  http: { host: string; port: number };
  /** Seconds a request's timestamp may be from now; 0 turns the check off. */
  signWindowS: number;
}
