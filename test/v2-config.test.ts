import { encodeFunctionData, type Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testUsdtAbi } from '../src/chain/token.js';
import { parseConfig } from '../src/config/parse.js';
import type { QueueConfig } from '../src/config/types.js';
import { createTestChain, mineUntil, type TestChain } from './helpers/chain.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { importWallets, newWallet, queueId, signedWithdraw } from './helpers/payouts.js';
import {
  type BusinessClient,
  type Collector,
  createBusinessClient,
  createTestQueues,
  type TestQueues,
} from './helpers/rabbit.js';
import { randomAddress, signedTopup, startTestService, until } from './helpers/service.js';

/**
 * A v2 config.json, with v2's fields only (no chainId, no tokens, no `chains`), still runs the service:
 * the chain `ETH` with mainnet USDT at its mainnet address, 6 decimals, the chain id read from the node,
 * MySQL. The anvil gets TestUSDT's code and settings at that address, so deposits and payouts are real.
 */

const MAINNET_USDT: Hex = '0xdac17f958d2ee523a2206206994597c13d831ec7';
/** TestUSDT's plain settings (name, symbol, decimals, supply, owner, paused) are in its first slots. */
const SETTINGS_SLOTS = 8;

async function usdtAtMainnetAddress(chain: TestChain) {
  const template = await chain.deployToken(6);
  const code = await chain.publicClient.getCode({ address: template });
  await chain.testClient.setCode({ address: MAINNET_USDT, bytecode: code! });
  for (let slot = 0; slot < SETTINGS_SLOTS; slot++) {
    const index = `0x${slot.toString(16).padStart(64, '0')}` as Hex;
    const value = await chain.publicClient.getStorageAt({ address: template, slot: index });
    await chain.testClient.setStorageAt({
      address: MAINNET_USDT,
      index,
      value: value ?? `0x${'0'.repeat(64)}`,
    });
  }
}

function v2Json(chain: TestChain, queues: TestQueues, db: TestDatabase) {
  if (db.config.driver !== 'mysql') throw new Error('v2 runs on MySQL');
  const q = (c: QueueConfig) => ({ queue: c.queue, exchange: c.exchange, routing: c.routing });
  return {
    rmq_config: {
      sub_addr: queues.url,
      pay: q(queues.pay),
      topup: q(queues.topup),
      withdraw: q(queues.withdraw),
      pay_resp: q(queues.payResp),
      topup_resp: q(queues.topupResp),
      withdraw_resp: q(queues.withdrawResp),
    },
    eth_config: {
      rpcUrl: chain.anvil.rpcUrl,
      wsUrl: chain.anvil.wsUrl,
      confirmHeight: 2,
      dbConfig: {
        user: db.config.user,
        password: db.config.password,
        host: db.config.host,
        port: db.config.port,
        database: db.config.database,
        maxOpenConns: 10,
        maxIdleCoons: 5,
        connMaxLife: 300,
      },
    },
  };
}

describe('a v2 config.json, unchanged', () => {
  let chain: TestChain;
  let db: TestDatabase;
  let queues: TestQueues;
  let business: BusinessClient;
  let topups: Collector;
  let withdrawals: Collector;
  let service: Awaited<ReturnType<typeof startTestService>>['service'] | undefined;
  const user = newWallet();
  const owner = 0;
  const usdtCall = (functionName: 'mint' | 'transfer', to: Hex, raw: bigint) =>
    chain.walletClients[owner]!.sendTransaction({
      to: MAINNET_USDT,
      data: encodeFunctionData({ abi: testUsdtAbi, functionName, args: [to, raw] }),
    });

  beforeAll(async () => {
    chain = await createTestChain({ noMining: true });
    await usdtAtMainnetAddress(chain);
    await usdtCall('mint', chain.accounts[owner]!.address, 1_000_000_000n);
    await usdtCall('mint', user.address, 100_000_000n);
    await chain.setEthBalance(user.address, 10n ** 18n);
    await chain.mine(1);
    db = await createTestDatabase('mysql');
    queues = createTestQueues();
    business = await createBusinessClient();
    topups = await business.collect(queues.topupResp);
    withdrawals = await business.collect(queues.withdrawResp);
    await importWallets(db.config, [user]);
    // Through JSON text, as the file would be read.
    const config = parseConfig(JSON.parse(JSON.stringify(v2Json(chain, queues, db))));
    expect(config.chains.map((c) => [c.name, c.chainId, c.native.symbol])).toEqual([
      ['ETH', undefined, 'ETH'],
    ]);
    ({ service } = await startTestService(config));
  });

  afterAll(async () => {
    await service?.stop();
    await business?.close();
    await queues?.cleanup();
    await db?.cleanup();
    await chain?.stop();
  });

  it('reports a USDT deposit (2 then 1) and pays a USDT withdrawal', async () => {
    const address = randomAddress();
    await business.publishRequest(queues.topup, signedTopup(address));
    await until(
      () => service!.db.selectFrom('watched_addresses').select('address').executeTakeFirst(),
      20_000,
      'watched',
    );
    const tx = await usdtCall('transfer', address, 2_500_000n);
    await mineUntil(
      chain,
      () => topups.messages.some((m) => (m.json as { status: number }).status === 1),
      'final',
    );
    expect(topups.messages.map((m) => m.json)).toMatchObject([
      { address, status: 2, chain: 'ETH', symbol: 'USDT', tx_hash: tx },
      { address, status: 1, chain: 'ETH', symbol: 'USDT', tx_hash: tx },
    ]);
    expect(topups.messages[0]!.text).toContain('"amount":2.5,');

    const id = queueId('v2');
    const to = randomAddress();
    await business.publishRequest(
      queues.withdraw,
      signedWithdraw({ queue_id: id, from_address: user.address, to_address: to, amount: '1.5' }),
    );
    await mineUntil(chain, () => withdrawals.messages.length > 0, 'the withdrawal answered');
    expect(withdrawals.messages[0]!.json).toMatchObject({
      queue_id: id,
      status: 1,
      from_address: user.address,
    });
    const balance = await chain.publicClient.readContract({
      address: MAINNET_USDT,
      abi: testUsdtAbi,
      functionName: 'balanceOf',
      args: [to],
    });
    expect(balance).toBe(1_500_000n);
  });
});
