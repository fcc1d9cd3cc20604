import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bytesToHex, createPublicClient, createWalletClient, type Hex, http } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import { type AnvilInstance, findFreePort, startAnvil } from '../chain/anvil.js';
import { testTokenDeployData, testUsdtAbi } from '../chain/token.js';
import { defaultAlertsConfig } from '../config/alerts.js';
import { singleChainConfig } from '../config/chains.js';
import type { Config, QueueConfig, SqliteDbConfig } from '../config/types.js';
import type { Logger } from '../internal/logger.js';
import { createDatabase } from '../store/db.js';
import { migrateToLatest } from '../store/migrate.js';
import { parseMasterKey } from '../vault/master-key.js';
import { createVault } from '../vault/vault.js';

/** anvil's well-known development mnemonic: its accounts hold test ether only. */
export const DEVNET_MNEMONIC = 'test test test test test test test test test test test junk';
export const DEVNET_CHAIN_ID = 31337;
export const DEVNET_CONFIRM_HEIGHT = 6;
/** Dev account used as the collection (hot) wallet: 10,000 test ether and a million test USDT. */
export const DEVNET_COLLECTION_INDEX = 5;

/** What the devnet keeps under ./data between runs. */
export interface DevnetState {
  signKey: string;
  masterKey: string;
  tokenAddress?: Hex;
  /** Where the devnet's node listens, for the `dev` commands. */
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
  anvil: AnvilInstance;
  stop(): Promise<void>;
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

export function devnetAccount(index: number) {
  return mnemonicToAccount(DEVNET_MNEMONIC, { addressIndex: index });
}

/** The devnet's database, for the service and for the `wallet` commands. */
export function devnetDbConfig(dataDir: string): SqliteDbConfig {
  return { driver: 'sqlite', file: join(resolve(dataDir), 'payment.sqlite') };
}

export function loadDevnetState(dataDir: string): DevnetState | undefined {
  const path = join(dataDir, 'devnet.json');
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as DevnetState;
}

/**
 * The embedded default of `npm start` without a config file: anvil from its npm package (one block a
 * second, state kept under ./data), a USDT-like test token, SQLite under ./data and the local RabbitMQ.
 * A signing secret and a master key are generated once and kept in ./data/devnet.json: there is nothing
 * real to protect on a devnet.
 */
export async function startDevnet(logger: Logger, dataDirInput = './data'): Promise<Devnet> {
  const dataDir = resolve(dataDirInput);
  mkdirSync(dataDir, { recursive: true });
  const statePath = join(dataDir, 'devnet.json');
  const state: DevnetState = loadDevnetState(dataDir) ?? {
    signKey: randomBytes(32).toString('hex'),
    masterKey: randomBytes(32).toString('hex'),
    queuePrefix: process.env.DEVNET_QUEUE_PREFIX ?? '',
  };
  const port = (await isPortFree(8545)) ? 8545 : await findFreePort();
  const anvil = await startAnvil({
    port,
    blockTime: 1,
    chainId: DEVNET_CHAIN_ID,
    statePath: join(dataDir, 'anvil-state.json'),
    stateInterval: 5,
  });
  try {
    const publicClient = createPublicClient({ transport: http(anvil.rpcUrl), cacheTime: 0 });
    const hasToken =
      state.tokenAddress !== undefined &&
      ((await publicClient.getCode({ address: state.tokenAddress })) ?? '0x') !== '0x';
    let tokenAddress = state.tokenAddress;
    if (!hasToken || !tokenAddress) {
      if (state.tokenAddress) {
        // The chain was reset under us: what the database remembers of the old one no longer holds.
        logger.warn('devnet chain was reset; starting with a fresh database');
        for (const f of ['payment.sqlite', 'payment.sqlite-wal', 'payment.sqlite-shm'])
          rmSync(join(dataDir, f), { force: true });
      }
      tokenAddress = await deployTestToken(anvil.rpcUrl);
      state.tokenAddress = tokenAddress;
      logger.info({ token: tokenAddress }, 'test USDT deployed');
    }
    const httpPort = (await isPortFree(8080)) ? 8080 : await findFreePort();
    state.rpcUrl = anvil.rpcUrl;
    state.httpUrl = `http://127.0.0.1:${httpPort}`;
    writeFileSync(statePath, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
    const config: Config = singleChainConfig({
      rmq: devnetRmq(state.queuePrefix),
      chain: {
        name: 'ETH',
        chainId: DEVNET_CHAIN_ID,
        rpcUrl: anvil.rpcUrl,
        wsUrl: anvil.wsUrl,
        confirmHeight: DEVNET_CONFIRM_HEIGHT,
        tokens: [{ symbol: 'USDT', addressLc: tokenAddress.toLowerCase() as Hex, decimals: 6 }],
        collectionAddressLc: devnetAccount(DEVNET_COLLECTION_INDEX).address.toLowerCase() as Hex,
        maxFeePerGasWei: 500n * 10n ** 9n,
        replaceAfterBlocks: 5,
      },
      db: devnetDbConfig(dataDir),
      http: { host: '127.0.0.1', port: httpPort },
      signWindowS: 86_400,
      alerts: defaultAlertsConfig(),
    });
    await importCollectionKey(config, state.masterKey);
    return { config, state, dataDir, anvil, stop: () => anvil.stop() };
  } catch (err) {
    await anvil.stop();
    throw err;
  }
}

/** Deploys the test token from dev account 0 and gives dev accounts 0–5 a million USDT each. */
export async function deployTestToken(rpcUrl: string): Promise<Hex> {
  const owner = devnetAccount(0);
  const wallet = createWalletClient({ account: owner, transport: http(rpcUrl) });
  const publicClient = createPublicClient({ transport: http(rpcUrl), cacheTime: 0 });
  const hash = await wallet.sendTransaction({ data: testTokenDeployData(6), chain: null });
  const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 100 });
  const token = receipt.contractAddress;
  if (!token) throw new Error('test token deployment has no contract address');
  for (let i = 0; i <= DEVNET_COLLECTION_INDEX; i++) {
    const mint = await wallet.writeContract({
      address: token,
      abi: testUsdtAbi,
      functionName: 'mint',
      args: [devnetAccount(i).address, 1_000_000n * 10n ** 6n],
      chain: null,
    });
    await publicClient.waitForTransactionReceipt({ hash: mint, pollingInterval: 100 });
  }
  return token.toLowerCase() as Hex;
}

async function isPortFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePort(true)));
  });
}

/** Puts the collection wallet's key (a well-known dev key) in the devnet's vault, once. */
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
