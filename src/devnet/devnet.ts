import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bytesToHex, type Hex } from 'viem';
import { findFreePort } from '../chain/anvil.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../internal/logger.js';
import { createDatabase } from '../store/db.js';
import { migrateToLatest } from '../store/migrate.js';
import { parseMasterKey } from '../vault/master-key.js';
import { createVault } from '../vault/vault.js';
import {
  DEVNET_CHAINS,
  DEVNET_COLLECTION_INDEX,
  type DevnetChainRun,
  type DevnetChainSpec,
  devnetAccount,
  isPortFree,
  startDevnetChain,
} from './chains.js';
import { devnetConfigJson, devnetConfigPath, writeDevnetConfig } from './config-file.js';

export {
  DEVNET_CHAINS,
  DEVNET_COLLECTION_INDEX,
  DEVNET_MNEMONIC,
  deployTestToken,
  devnetAccount,
} from './chains.js';
export { devnetConfigPath, devnetDbConfig, devnetRmq, loadDevnetConfig } from './config-file.js';

/** The ETH chain's id and confirmations (anvil's default chain id). */
export const DEVNET_CHAIN_ID = DEVNET_CHAINS[0]!.chainId;
export const DEVNET_CONFIRM_HEIGHT = DEVNET_CHAINS[0]!.confirmHeight;

/** What the devnet keeps of one chain between runs. */
export interface DevnetChainState {
  tokenAddress?: Hex;
  /** Its batcher contract (batch payouts); absent in a devnet made before batching. */
  batcherAddress?: Hex;
  /** Where its node listened in the last start. */
  rpcUrl?: string;
}

/** What the devnet keeps under ./data between runs. */
export interface DevnetState {
  signKey: string;
  masterKey: string;
  /** Each chain's test token and node, by chain name. Absent in a devnet made by the one-chain version. */
  chains?: Record<string, DevnetChainState>;
  /** ETH's test token and node, as the one-chain version wrote them (still written, for its readers). */
  tokenAddress?: Hex;
  rpcUrl?: string;
  /** Where its HTTP server listens. */
  httpUrl?: string;
  /** Put before every queue and exchange name (DEVNET_QUEUE_PREFIX when the devnet was made: tests use
   * their own names); empty for the v2 names. */
  queuePrefix?: string;
}

export interface Devnet {
  config: Config;
  state: DevnetState;
  dataDir: string;
  /** The chains, ETH first, each with its own anvil. */
  chains: DevnetChainRun[];
  /** The config file written for this run (PROTOCOL §2: `eth_config` and `chains`). */
  configPath: string;
  /** Stops every anvil of the devnet. */
  stop(): Promise<void>;
}

export function loadDevnetState(dataDir: string): DevnetState | undefined {
  const path = join(dataDir, 'devnet.json');
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as DevnetState;
}

/** The state's chains; a one-chain devnet's token becomes ETH's, so its chain and database are kept. */
function chainStates(state: DevnetState): Record<string, DevnetChainState> {
  if (state.chains) return state.chains;
  return state.tokenAddress ? { ETH: { tokenAddress: state.tokenAddress, rpcUrl: state.rpcUrl } } : {};
}

/**
 * The embedded default of `npm start` without a config file: two chains, ETH (chain id 31337, a 6-decimal
 * test USDT) and BSC (31338, an 18-decimal test USDT, native BNB), each its own anvil from the npm package
 * (one block a second, state kept under ./data); SQLite under ./data and the local RabbitMQ. The config is
 * written to ./data/devnet-config.json and read back like any config file. A signing secret and a master
 * key are generated once and kept in ./data/devnet.json: there is nothing real to protect on a devnet.
 *
 * A devnet directory of the one-chain version is upgraded: its ETH chain, database and secrets are kept,
 * the BSC chain is added.
 */
export async function startDevnet(
  logger: Logger,
  dataDirInput = './data',
  specs: readonly DevnetChainSpec[] = DEVNET_CHAINS,
): Promise<Devnet> {
  const dataDir = resolve(dataDirInput);
  mkdirSync(dataDir, { recursive: true });
  const statePath = join(dataDir, 'devnet.json');
  const state: DevnetState = loadDevnetState(dataDir) ?? {
    signKey: randomBytes(32).toString('hex'),
    masterKey: randomBytes(32).toString('hex'),
    queuePrefix: process.env.DEVNET_QUEUE_PREFIX ?? '',
  };
  const known = chainStates(state);
  const chains: DevnetChainRun[] = [];
  const stop = async () => {
    await Promise.all(chains.map((run) => run.anvil.stop()));
  };
  try {
    // One after the other: each takes its preferred port when free, else a free one.
    for (const spec of specs) {
      const run = await startDevnetChain(spec, dataDir, known[spec.name]);
      chains.push(run);
      if (run.deployed) logger.info({ chain: spec.name, token: run.tokenAddress }, 'test USDT deployed');
    }
    if (chains.some((run) => run.wasReset)) {
      // A chain was reset under us: what the database remembers of it no longer holds.
      logger.warn('a devnet chain was reset; starting with a fresh database');
      for (const f of ['payment.sqlite', 'payment.sqlite-wal', 'payment.sqlite-shm'])
        rmSync(join(dataDir, f), { force: true });
    }
    const httpPort = (await isPortFree(8080)) ? 8080 : await findFreePort();
    state.chains = Object.fromEntries(
      chains.map((run) => [
        run.spec.name,
        { tokenAddress: run.tokenAddress, batcherAddress: run.batcherAddress, rpcUrl: run.anvil.rpcUrl },
      ]),
    );
    const eth = chains[0]!;
    state.tokenAddress = eth.tokenAddress;
    state.rpcUrl = eth.anvil.rpcUrl;
    state.httpUrl = `http://127.0.0.1:${httpPort}`;
    writeFileSync(statePath, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
    const config = writeDevnetConfig(
      dataDir,
      devnetConfigJson({ chains, dataDir, queuePrefix: state.queuePrefix ?? '', httpPort }),
    );
    await importCollectionKey(config, state.masterKey);
    return { config, state, dataDir, chains, configPath: devnetConfigPath(dataDir), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Puts the collection wallet's key (a well-known dev key, the same on every chain) in the devnet's vault, once. */
async function importCollectionKey(config: Config, masterKey: string) {
  const handle = await createDatabase(config.db);
  try {
    await migrateToLatest(handle.db);
    const vault = createVault({ db: handle.db, masterKey: parseMasterKey(masterKey) });
    const key = devnetAccount(DEVNET_COLLECTION_INDEX).getHdKey().privateKey;
    if (!key) throw new Error('dev account has no private key');
    await vault.importKey(bytesToHex(key));
  } finally {
    await handle.close();
  }
}
