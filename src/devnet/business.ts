import { readFileSync } from 'node:fs';
import {
  createPaymentClient,
  type PaymentClient,
  type PaymentClientOptions,
  type RmqConfigJson,
} from '../client/index.js';
import { assetsOf } from '../config/chains.js';
import type { ChainConfig, Config, TokenConfig } from '../config/types.js';
import { devnetConfigPath, loadDevnetConfig } from './config-file.js';
import { loadDevnetState } from './devnet.js';

/**
 * What the `dev` commands and the demo need of the running devnet (`npm start` without a config): its
 * secret from `<dataDir>/devnet.json`, its chains (nodes, tokens, native coins) and its `rmq_config` from
 * the config file it wrote.
 */
export function devnet(dataDir: string) {
  const state = loadDevnetState(dataDir);
  const config = state ? loadDevnetConfig(dataDir) : undefined;
  if (!state || !config) {
    throw new Error(`no devnet under ${dataDir}: run \`npm start\` (without a config file) first`);
  }
  // The `rmq_config` of the config file as it is written: what a business system hands the client.
  const file = JSON.parse(readFileSync(devnetConfigPath(dataDir), 'utf8')) as { rmq_config: RmqConfigJson };
  return { ...state, config, rmqConfig: file.rmq_config };
}

export type RunningDevnet = ReturnType<typeof devnet>;

/** The chain named `name` (any letter case, as requests match it); an error listing the chains otherwise. */
export function devnetChain(config: Config, name = 'ETH'): ChainConfig {
  const chain = config.chains.find((c) => c.name.toLowerCase() === name.toLowerCase());
  if (!chain)
    throw new Error(`the devnet has no chain ${name}: it has ${config.chains.map((c) => c.name).join(', ')}`);
  return chain;
}

/**
 * The token or native coin `symbol` of `chain` (default: its first token, the test USDT); the native
 * coin's address is NATIVE_ADDRESS_LC (see `isNativeAddress`).
 */
export function devnetAsset(chain: ChainConfig, symbol?: string): TokenConfig {
  const assets = assetsOf(chain);
  const asset = symbol ? assets.find((a) => a.symbol.toLowerCase() === symbol.toLowerCase()) : assets[0];
  if (!asset)
    throw new Error(`chain ${chain.name} has no ${symbol}: it has ${assets.map((a) => a.symbol).join(', ')}`);
  return asset;
}

/**
 * A payment client (src/client) on the devnet's queues, signing with its secret: what the `dev` commands
 * and the demo talk to the service through, as a business system would. Close it when done.
 */
export function devnetClient(
  dn: RunningDevnet,
  options: Partial<Omit<PaymentClientOptions, 'secret' | 'rmq'>> = {},
): PaymentClient {
  return createPaymentClient({ secret: dn.signKey, rmq: dn.rmqConfig, ...options });
}

/** Runs `use` with a devnet client, closed afterwards whatever happens. */
export async function withDevnetClient<T>(dn: RunningDevnet, use: (client: PaymentClient) => Promise<T>) {
  const client = devnetClient(dn);
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}
