import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { createPublicClient, type Hex, http } from 'viem';
import { afterAll, describe, expect, it } from 'vitest';
import { batcherAbi } from '../src/batch/contract.js';
import { startAnvil } from '../src/chain/anvil.js';
import { testUsdtAbi } from '../src/chain/token.js';
import { loadConfig } from '../src/config/load.js';
import {
  DEVNET_COLLECTION_INDEX,
  deployTestToken,
  devnetAccount,
  devnetDbConfig,
  devnetRmq,
  loadDevnetState,
  startDevnet,
} from '../src/devnet/devnet.js';
import { createLogger } from '../src/internal/logger.js';
import { createDatabase } from '../src/store/db.js';
import { migrateToLatest } from '../src/store/migrate.js';
import { parseMasterKey } from '../src/vault/master-key.js';
import { createVault } from '../src/vault/vault.js';
import { runCli } from './helpers/cli.js';
import { type ServiceProcess, spawnStart } from './helpers/process.js';
import { TEST_AMQP_URL } from './helpers/rabbit.js';
import { until } from './helpers/service.js';

const client = (rpcUrl: string) => createPublicClient({ transport: http(rpcUrl), cacheTime: 0 });

async function chainIdAt(rpcUrl: string): Promise<number> {
  return client(rpcUrl).getChainId();
}

async function tokenBalance(rpcUrl: string, token: Hex, owner: Hex): Promise<bigint> {
  return client(rpcUrl).readContract({
    address: token,
    abi: testUsdtAbi,
    functionName: 'balanceOf',
    args: [owner],
  });
}

interface ChainJson {
  rpcUrl: string;
  chainId: number;
  confirmHeight: number;
  native?: { symbol: string; decimals: number };
  tokens: Record<string, { address: Hex; decimals: number }>;
  collectionAddress: string;
  batch?: { enabled: boolean; address: Hex };
}

/** `npm start` with no config file, in an empty directory: the embedded devnet, two chains. Then `dev` and the demo. */
describe('the embedded devnet', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'm2p-devnet-'));
  const prefix = `t.${randomBytes(4).toString('hex')}.`;
  const env = { DEVNET_QUEUE_PREFIX: prefix, CONFIG_PATH: '', PAYMENT_SIGN_KEY: '', PAYMENT_MASTER_KEY: '' };
  let service: ServiceProcess | undefined;

  const stopService = async () => {
    if (service && service.child.exitCode === null) {
      service.child.kill('SIGTERM');
      await service.exited;
    }
  };

  afterAll(async () => {
    await stopService();
    const rmq = devnetRmq(prefix);
    const conn = await amqplib.connect(TEST_AMQP_URL);
    const ch = await conn.createChannel();
    for (const q of [rmq.topup, rmq.withdraw, rmq.pay, rmq.topupResp, rmq.withdrawResp, rmq.payResp]) {
      await ch.deleteQueue(q.queue);
      await ch.deleteQueue(`${q.queue}.dlq`);
    }
    await ch.deleteExchange(rmq.topup.exchange);
    await conn.close();
    rmSync(cwd, { recursive: true, force: true });
  });

  const readConfigFile = () =>
    JSON.parse(readFileSync(join(cwd, 'data', 'devnet-config.json'), 'utf8')) as {
      eth_config: ChainJson;
      chains: Record<string, ChainJson>;
    };

  it('runs ETH and BSC, each its own anvil, from a normal two-chain config file', async () => {
    service = spawnStart([], env, cwd);
    await service.waitForLog(/devnet is running/, 90_000);
    await service.waitForLog(/service started/, 30_000);

    const file = readConfigFile();
    const eth = file.eth_config;
    const bsc = file.chains.BSC!;
    expect(Object.keys(file.chains)).toEqual(['BSC']);
    expect(eth.chainId).toBe(31337);
    expect(eth.tokens.USDT!.decimals).toBe(6);
    expect(bsc).toMatchObject({ chainId: 31338, native: { symbol: 'BNB', decimals: 18 } });
    expect(bsc.tokens.USDT!.decimals).toBe(18);
    // One wallet serves both chains.
    const collection = devnetAccount(DEVNET_COLLECTION_INDEX).address.toLowerCase() as Hex;
    expect(eth.collectionAddress).toBe(collection);
    expect(bsc.collectionAddress).toBe(collection);
    expect(bsc.rpcUrl).not.toBe(eth.rpcUrl);
    expect(bsc.tokens.USDT!.address).not.toBe(eth.tokens.USDT!.address);
    // It is a config file like any other: it loads, with ETH first.
    const config = loadConfig({ path: join(cwd, 'data', 'devnet-config.json'), env: {} });
    expect(config.chains.map((c) => `${c.name}:${c.chainId}:${c.native.symbol}`)).toEqual([
      'ETH:31337:ETH',
      'BSC:31338:BNB',
    ]);

    // Both anvils answer, each with its chain id; the tokens have their decimals; the collection wallet
    // holds USDT on both and BNB on BSC.
    expect(await chainIdAt(eth.rpcUrl)).toBe(31337);
    expect(await chainIdAt(bsc.rpcUrl)).toBe(31338);
    const decimals = (c: ChainJson) =>
      client(c.rpcUrl).readContract({
        address: c.tokens.USDT!.address,
        abi: testUsdtAbi,
        functionName: 'decimals',
      });
    expect(await decimals(eth)).toBe(6);
    expect(await decimals(bsc)).toBe(18);
    expect(await tokenBalance(bsc.rpcUrl, bsc.tokens.USDT!.address, collection)).toBe(10n ** 24n);
    expect(await tokenBalance(eth.rpcUrl, eth.tokens.USDT!.address, collection)).toBe(10n ** 12n);
    expect(await client(bsc.rpcUrl).getBalance({ address: collection })).toBeGreaterThan(10n ** 21n);
    // Each chain has its batcher, owned by the collection wallet, written in but off (PROTOCOL §2.13).
    for (const c of [eth, bsc]) {
      expect(c.batch).toMatchObject({ enabled: false, address: expect.stringMatching(/^0x[0-9a-f]{40}$/) });
      const owner = await client(c.rpcUrl).readContract({
        address: c.batch!.address,
        abi: batcherAbi,
        functionName: 'owner',
      });
      expect(owner.toLowerCase()).toBe(collection);
    }
    expect(config.chains.map((c) => c.batch?.enabled)).toEqual([false, false]);

    const banner = service.output.join('\n');
    expect(banner).toMatch(/chain ETH\s+chainId 31337\s+6 confirmations.*native ETH \(18 decimals\)/);
    expect(banner).toMatch(/chain BSC\s+chainId 31338\s+4 confirmations.*native BNB \(18 decimals\)/);
    expect(banner).toContain(`RPC ${eth.rpcUrl}`);
    expect(banner).toContain(`RPC ${bsc.rpcUrl}`);
    expect(banner).toContain(`${bsc.tokens.USDT!.address} (18 decimals`);
    expect(banner).toContain(`${eth.tokens.USDT!.address} (6 decimals`);
    expect(banner).toContain(`${prefix}pay.recharge.queue`);
    expect(banner).toMatch(/m2pool-payment dev topup 0x/);
    expect(banner).toContain('--chain BSC');
  });

  it('`dev` commands act on the chain of --chain: its token with its decimals, its native coin', async () => {
    const { eth_config: eth, chains } = readConfigFile();
    const bsc = chains.BSC!;
    const to = `0x${randomBytes(20).toString('hex')}` as Hex;
    const dev = (args: string[]) => runCli(['dev', ...args], { cwd, env });

    const usdt = await dev(['transfer', to, '1.5', '--chain', 'BSC']);
    expect(usdt.stderr).toBe('');
    expect(usdt.stdout).toMatch(/sent 1\.5 USDT on BSC/);
    expect(await tokenBalance(bsc.rpcUrl, bsc.tokens.USDT!.address, to)).toBe(1_500_000_000_000_000_000n);
    expect(await tokenBalance(eth.rpcUrl, eth.tokens.USDT!.address, to)).toBe(0n);

    // Chain names and symbols in any letter case, as requests match them.
    const bnb = await dev(['transfer', to, '0.25', '--chain', 'bsc', '--symbol', 'bnb']);
    expect(bnb.stdout).toMatch(/sent 0\.25 BNB on BSC/);
    expect(await client(bsc.rpcUrl).getBalance({ address: to })).toBe(250_000_000_000_000_000n);
    expect(await client(eth.rpcUrl).getBalance({ address: to })).toBe(0n);

    const byDefault = await dev(['transfer', to, '2']);
    expect(byDefault.stdout).toMatch(/sent 2 USDT on ETH/);
    expect(await tokenBalance(eth.rpcUrl, eth.tokens.USDT!.address, to)).toBe(2_000_000n);

    const topup = await dev(['topup', to, '--chain', 'BSC', '--symbol', 'BNB']);
    expect(topup.stdout).toContain('"chain":"BSC","symbol":"BNB"');

    // A withdrawal of BNB: the service pays it on BSC from the collection wallet.
    const withdraw = await dev(['withdraw', to, '0.1', '--chain', 'BSC', '--symbol', 'BNB']);
    expect(withdraw.stdout).toContain('"chain":"BSC","symbol":"BNB"');
    await until(
      async () =>
        (await client(bsc.rpcUrl).getBalance({ address: to })) === 350_000_000_000_000_000n || undefined,
      60_000,
      'the BNB withdrawal paid on BSC',
    );

    const unknownChain = await dev(['topup', to, '--chain', 'TRON']);
    expect(unknownChain.code).toBe(1);
    expect(unknownChain.stderr).toBe('error: the devnet has no chain TRON: it has ETH, BSC\n');
    const unknownSymbol = await dev(['transfer', to, '1', '--chain', 'BSC', '--symbol', 'ETH']);
    expect(unknownSymbol.code).toBe(1);
    expect(unknownSymbol.stderr).toMatch(/chain BSC has no ETH: it has USDT, BNB/);
  });

  it('passes the demo on both chains, and stops both anvils with the service', async () => {
    const demo = await runCli(['dev', 'demo'], { cwd, env, timeoutMs: 200_000 });
    expect(demo.stderr).toBe('');
    expect(demo.code).toBe(0);
    for (const [chain, symbol] of [
      ['ETH', 'USDT'],
      ['BSC', 'USDT'],
      ['BSC', 'BNB'],
    ]) {
      for (const status of [2, 1])
        expect(demo.stdout).toMatch(
          new RegExp(`"status":${status},"chain":"${chain}","symbol":"${symbol}","amount":(12\\.5|0\\.5)`),
        );
    }
    expect(demo.stdout).toMatch(/withdraw\.return\.queue: \{[^}]*"status":1,"amount":3,"chain":"BSC"/);
    expect(demo.stdout).toMatch(
      /withdraw\.return\.queue: \{[^}]*"status":1,"amount":0\.1,"chain":"BSC","symbol":"BNB"/,
    );
    expect(demo.stdout).toMatch(/pay\.auto\.return\.queue: \{[^}]*"status":1,"amount":1\.25,"chain":"ETH"/);
    expect(demo.stdout).toContain('done: every message arrived');

    const { eth_config: eth, chains } = readConfigFile();
    service!.child.kill('SIGTERM');
    expect(await service!.exited).toBe(0);
    expect(service!.output.join('\n')).toContain('service stopped');
    for (const rpcUrl of [eth.rpcUrl, chains.BSC!.rpcUrl])
      await expect(fetch(rpcUrl, { method: 'POST', body: '{}' })).rejects.toThrow();
  }, 240_000);

  it('a second start reuses both chains: same tokens, nothing deployed again', async () => {
    const before = readConfigFile();
    service = spawnStart([], env, cwd);
    await service.waitForLog(/devnet is running/, 90_000);
    const after = readConfigFile();
    expect(after.eth_config.tokens).toEqual(before.eth_config.tokens);
    expect(after.chains.BSC!.tokens).toEqual(before.chains.BSC!.tokens);
    expect(after.eth_config.batch).toEqual(before.eth_config.batch);
    expect(after.chains.BSC!.batch).toEqual(before.chains.BSC!.batch);
    expect(service.output.join('\n')).not.toMatch(/test USDT deployed|was reset/);
    await stopService();
    expect(await service.exited).toBe(0);
  });
});

describe('a devnet directory of the one-chain version', () => {
  const dir = mkdtempSync(join(tmpdir(), 'm2p-devnet-v1-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is upgraded: its ETH chain, token, database and secrets are kept, BSC is added', async () => {
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    // What the one-chain devnet left: anvil's state, its token, devnet.json without `chains`, a database.
    const old = await startAnvil({ chainId: 31337, statePath: join(dataDir, 'anvil-state.json') });
    const oldToken = await deployTestToken(old.rpcUrl, 6);
    await old.stop();
    const masterKey = randomBytes(32).toString('hex');
    const oldState = {
      signKey: 'old-sign-key',
      masterKey,
      tokenAddress: oldToken,
      rpcUrl: old.rpcUrl,
      queuePrefix: 'v1.',
    };
    writeFileSync(join(dataDir, 'devnet.json'), JSON.stringify(oldState));
    const marker = await (async () => {
      const handle = await createDatabase(devnetDbConfig(dataDir));
      await migrateToLatest(handle.db);
      const address = await createVault({ db: handle.db, masterKey: parseMasterKey(masterKey) }).newKey();
      await handle.close();
      return address;
    })();

    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      destination: { write: (line: string) => lines.push(line) },
    });
    const devnet = await startDevnet(logger, dataDir);
    try {
      const [eth, bsc] = devnet.chains;
      expect(eth!.tokenAddress).toBe(oldToken);
      expect(eth!.deployed).toBe(false);
      expect(bsc!.deployed).toBe(true);
      expect(await chainIdAt(bsc!.anvil.rpcUrl)).toBe(31338);
      expect(devnet.config.chains.map((c) => c.name)).toEqual(['ETH', 'BSC']);
      expect(devnet.config.chain.tokens[0]!.addressLc).toBe(oldToken);
      expect(lines.join('')).not.toMatch(/was reset/);
      const state = loadDevnetState(dataDir)!;
      expect(state).toMatchObject({
        signKey: 'old-sign-key',
        masterKey,
        queuePrefix: 'v1.',
        tokenAddress: oldToken,
      });
      expect(state.chains?.BSC?.tokenAddress).toBe(bsc!.tokenAddress);
      // The kept chain gets the batcher the old devnet did not have.
      expect(state.chains?.ETH?.batcherAddress).toBe(eth!.batcherAddress);
      expect(devnet.config.chain.batch).toEqual({
        enabled: false,
        maxSize: 100,
        maxWaitMs: 2000,
        addressLc: eth!.batcherAddress,
      });
      // The database was kept: the key stored in it before is still there.
      const handle = await createDatabase(devnet.config.db);
      try {
        expect(await createVault({ db: handle.db, masterKey: parseMasterKey(masterKey) }).has(marker)).toBe(
          true,
        );
      } finally {
        await handle.close();
      }
    } finally {
      await devnet.stop();
    }
  });
});
