import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import type { Config, QueueConfig, SqliteDbConfig } from '../config/types.js';
import type { DevnetChainRun } from './chains.js';
import { DEVNET_COLLECTION_INDEX, devnetAccount } from './chains.js';

/** The devnet's config file, written at every start (its ports may change): a normal two-chain config.json. */
export const DEVNET_CONFIG_FILE = 'devnet-config.json';

export function devnetConfigPath(dataDir: string): string {
  return join(resolve(dataDir), DEVNET_CONFIG_FILE);
}

/** The v2 queue names (PROTOCOL §1), each after `prefix`. */
export function devnetRmq(prefix = '', url = 'amqp://guest:guest@127.0.0.1:5672'): Config['rmq'] {
  const q = (name: string, routing: string): QueueConfig => ({
    queue: `${prefix}${name}`,
    exchange: `${prefix}pay.exchange`,
    routing: [`${prefix}${routing}`],
  });
  return {
    url,
    pay: q('pay.auto.queue', 'pay.auto.routing.key'),
    topup: q('pay.recharge.queue', 'pay.recharge.routing.key'),
    withdraw: q('pay.withdraw.queue', 'pay.withdraw.routing.key'),
    payResp: q('pay.auto.return.queue', 'pay.auto.return.routing.key'),
    topupResp: q('pay.recharge.return.queue', 'pay.recharge.return.routing.key'),
    withdrawResp: q('pay.withdraw.return.queue', 'pay.withdraw.return.routing.key'),
  };
}

/** The devnet's database, for the service and for the `wallet` commands. */
export function devnetDbConfig(dataDir: string): SqliteDbConfig {
  return { driver: 'sqlite', file: join(resolve(dataDir), 'payment.sqlite') };
}

/**
 * The devnet as an operator would write it (PROTOCOL §2): the first chain (ETH) in `eth_config`, the
 * others in `chains`, one collection wallet for all of them (a wallet is an address, and so serves
 * every EVM chain). Secrets are not in it: they stay in `devnet.json`.
 */
export function devnetConfigJson(options: {
  chains: readonly DevnetChainRun[];
  dataDir: string;
  queuePrefix: string;
  httpPort: number;
}): Record<string, unknown> {
  const rmq = devnetRmq(options.queuePrefix);
  const queue = (q: QueueConfig) => ({ queue: q.queue, exchange: q.exchange, routing: q.routing });
  const collection = devnetAccount(DEVNET_COLLECTION_INDEX).address.toLowerCase();
  const chain = ({ spec, anvil, tokenAddress, batcherAddress }: DevnetChainRun) => ({
    rpcUrl: anvil.rpcUrl,
    wsUrl: anvil.wsUrl,
    chainId: spec.chainId,
    confirmHeight: spec.confirmHeight,
    native: spec.native,
    tokens: { USDT: { address: tokenAddress, decimals: spec.tokenDecimals } },
    collectionAddress: collection,
    maxFeeGwei: spec.maxFeeGwei,
    replaceAfterBlocks: 5,
    // Deployed, not yet used: payouts are not batched until the payout side does it (PROTOCOL §2.13).
    batch: { enabled: false, address: batcherAddress },
  });
  const [eth, ...more] = options.chains;
  if (!eth) throw new Error('a devnet has at least one chain');
  return {
    rmq_config: {
      sub_addr: rmq.url,
      pay: queue(rmq.pay),
      topup: queue(rmq.topup),
      withdraw: queue(rmq.withdraw),
      pay_resp: queue(rmq.payResp),
      topup_resp: queue(rmq.topupResp),
      withdraw_resp: queue(rmq.withdrawResp),
    },
    eth_config: { ...chain(eth), dbConfig: devnetDbConfig(options.dataDir) },
    chains: Object.fromEntries(more.map((run) => [run.spec.name, chain(run)])),
    http_config: { addr: `127.0.0.1:${options.httpPort}` },
    sign_window_s: 86_400,
  };
}

/** Writes the config file and reads it back the way `start --config` would: it is checked like any other. */
export function writeDevnetConfig(dataDir: string, json: Record<string, unknown>): Config {
  const path = devnetConfigPath(dataDir);
  writeFileSync(path, `${JSON.stringify(json, null, 2)}\n`);
  return loadConfig({ path, env: {} });
}

/** The running devnet's config (for the `dev` commands), or undefined when no devnet wrote one under `dataDir`. */
export function loadDevnetConfig(dataDir: string): Config | undefined {
  const path = devnetConfigPath(dataDir);
  return existsSync(path) ? loadConfig({ path, env: {} }) : undefined;
}
