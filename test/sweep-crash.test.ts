import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Address } from 'viem';
import { english, generateMnemonic } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type DatabaseHandle } from '../src/store/db.js';
import { migrateToLatest } from '../src/store/migrate.js';
import type { PayoutRow } from '../src/store/schema.js';
import { issueAddress } from '../src/treasury/issue.js';
import { parseMasterKey } from '../src/vault/master-key.js';
import { createVault } from '../src/vault/vault.js';
import { createTestChain, mineUntil, type TestChain } from './helpers/chain.js';
import { createTestDatabase, dbKinds, type TestDatabase } from './helpers/db.js';
import { importWallets, newWallet } from './helpers/payouts.js';
import { type ServiceProcess, spawnService, toV2Json, writeJson } from './helpers/process.js';
import { createTestQueues, type TestQueues } from './helpers/rabbit.js';
import { type InterceptingRpc, startInterceptingRpc } from './helpers/rpc-intercept.js';
import { TEST_MASTER_KEY, TEST_SIGN_KEY, testConfig, until } from './helpers/service.js';

/**
 * A service SIGKILLed in the middle of a sweep (issue 12): once between a wallet's gas top-up and its sweep,
 * once after the sweep was signed and stored but before any node had it. After a restart, each wallet has
 * exactly one top-up and one sweep, the sweep's transaction signed once, and the amounts exact. The faults
 * come from a JSON-RPC proxy the test owns: it refuses balance reads (no round can be planned, so the kill
 * falls between the two steps for certain) or raw transactions (the signed sweep never reaches the node).
 */

const E6 = 1_000_000n;
const CONFIRM = 3;

describe.each(dbKinds)('a service killed mid-sweep on %s', (kind) => {
  const dir = mkdtempSync(join(tmpdir(), 'm2p-sweep-crash-'));
  const collection = newWallet();
  let chain: TestChain;
  let rpc: InterceptingRpc;
  let db: TestDatabase;
  let view: DatabaseHandle;
  let queues: TestQueues;
  let configPath: string;
  let service: ServiceProcess | undefined;
  let issue: (user: string) => Promise<Address>;
  const env = { PAYMENT_SIGN_KEY: TEST_SIGN_KEY, PAYMENT_MASTER_KEY: TEST_MASTER_KEY };

  beforeAll(async () => {
    chain = await createTestChain({ noMining: true });
    await chain.deployToken();
    await chain.setEthBalance(collection.address, 10n ** 19n);
    rpc = await startInterceptingRpc(chain.anvil.rpcUrl);
    db = await createTestDatabase(kind);
    await importWallets(db.config, [collection]);
    view = await createDatabase(db.config);
    await migrateToLatest(view.db);
    const vault = createVault({ db: view.db, masterKey: parseMasterKey(TEST_MASTER_KEY) });
    await vault.initHd(generateMnemonic(english, 256));
    queues = createTestQueues();
    const config = testConfig({
      chain,
      queues,
      db: db.config,
      confirmHeight: CONFIRM,
      rpcUrl: rpc.url,
      collectionAddressLc: collection.address,
    });
    issue = async (user) => (await issueAddress(view.db, { config, vault }, user)).address as Address;
    const json = toV2Json(config);
    (json.eth_config as Record<string, unknown>).sweep = {
      intervalSeconds: 10,
      minAmount: { USDT: '50' },
      keepDust: { USDT: '0.000001' },
      maxFeeGwei: 30,
    };
    configPath = join(dir, 'config.json');
    writeJson(configPath, json);
  });
  afterAll(async () => {
    service?.child.kill('SIGTERM');
    await service?.exited;
    await view?.close();
    await queues?.cleanup();
    await db?.cleanup();
    await rpc?.close();
    await chain?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start() {
    service = spawnService(configPath, env);
    await service.waitForLog(/"msg":"service started"/);
  }
  async function kill() {
    service!.child.kill('SIGKILL');
    await service!.exited;
    service = undefined;
  }
  const rows = (wallet: Address) =>
    view.db
      .selectFrom('payouts')
      .selectAll()
      .where('kind', 'in', ['sweep', 'gas_topup'])
      .where((eb) =>
        eb.or([eb('from_address', '=', wallet.toLowerCase()), eb('to_address', '=', wallet.toLowerCase())]),
      )
      .orderBy('created_at')
      .execute() as Promise<PayoutRow[]>;
  const stateOf = async (wallet: Address, kindOf: string) =>
    (await rows(wallet)).find((r) => r.kind === kindOf)?.state;

  /** A deposit of 100 USDT to a new issued wallet, confirmed, then the round that tops it up. */
  async function depositAndTopUp(user: string) {
    const wallet = await issue(user);
    await chain.mint(wallet, 100n * E6);
    await chain.mine(CONFIRM);
    // Rounds come every 10 s: mine slowly until one stored the top-up and the node has it.
    await mineUntil(chain, async () => (await stateOf(wallet, 'gas_topup')) === 'sent', 'top-up sent', 80);
    return wallet;
  }

  /** Mines until the wallet's top-up and sweep are both confirmed, then checks they are one each, exact. */
  async function expectOneTopUpOneSweep(wallet: Address, collectionBefore: bigint) {
    await mineUntil(
      chain,
      async () => {
        const r = await rows(wallet);
        return r.length >= 2 && r.every((p) => p.state === 'confirmed' || p.state === 'failed');
      },
      'top-up and sweep confirmed',
      120,
    );
    const final = await rows(wallet);
    expect(final.map((r) => [r.kind, r.state])).toEqual([
      ['gas_topup', 'confirmed'],
      ['sweep', 'confirmed'],
    ]);
    const sweep = final[1]!;
    expect(sweep.amount_raw).toBe('99999999');
    // One transaction from the wallet, ever: the sweep under its one nonce (a replacement with higher fees,
    // while no node took it, is the same nonce signed again, never a second transfer).
    expect(await chain.publicClient.getTransactionCount({ address: wallet })).toBe(1);
    const signed = await view.db
      .selectFrom('payout_txs')
      .select(['tx_hash', 'nonce'])
      .where('queue_id', '=', sweep.queue_id)
      .execute();
    expect(new Set(signed.map((t) => Number(t.nonce)))).toEqual(new Set([0]));
    expect(signed.map((t) => t.tx_hash)).toContain(sweep.tx_hash);
    expect(await chain.balanceOf(wallet)).toBe(1n);
    expect(await chain.balanceOf(collection.address)).toBe(collectionBefore + 99_999_999n);
    const receipt = await chain.publicClient.getTransactionReceipt({ hash: sweep.tx_hash as `0x${string}` });
    expect(await chain.publicClient.getBalance({ address: wallet })).toBe(
      BigInt(final[0]!.amount_raw) - receipt.gasUsed * receipt.effectiveGasPrice,
    );
  }

  it('SIGKILL between the top-up and the sweep: one top-up, one sweep after the restart', async () => {
    await start();
    const collectionBefore = await chain.balanceOf(collection.address);
    const wallet = await depositAndTopUp('kill-between');
    // From now on no round can be planned: the top-up is followed to its end, and nothing comes after it.
    rpc.set((call) =>
      call.method === 'eth_getBalance' ? { error: 'balance reads refused by the test' } : undefined,
    );
    await mineUntil(
      chain,
      async () => (await stateOf(wallet, 'gas_topup')) === 'confirmed',
      'top-up confirmed',
    );
    expect((await rows(wallet)).map((r) => r.kind)).toEqual(['gas_topup']);
    await kill();
    rpc.set(undefined);
    await start();
    await expectOneTopUpOneSweep(wallet, collectionBefore);
  });

  it('SIGKILL after the sweep is signed and stored, before a node has it: one transfer under its one nonce', async () => {
    if (!service) await start();
    const collectionBefore = await chain.balanceOf(collection.address);
    const wallet = await depositAndTopUp('kill-signed');
    await mineUntil(chain, async () => (await stateOf(wallet, 'gas_topup')) !== 'sent', 'top-up mined');
    // Every broadcast from now on is refused: the sweep is signed and stored, and reaches no node.
    rpc.set((call) =>
      call.method === 'eth_sendRawTransaction'
        ? { error: 'raw transactions refused by the test' }
        : undefined,
    );
    await mineUntil(
      chain,
      async () => {
        const sweep = (await rows(wallet)).find((r) => r.kind === 'sweep');
        return sweep?.tx_hash !== null && sweep?.tx_hash !== undefined;
      },
      'sweep signed',
      80,
    );
    await until(
      () => service!.output.some((l) => l.includes('raw transactions refused')),
      10_000,
      'a refused send',
    );
    expect(await chain.publicClient.getTransactionCount({ address: wallet })).toBe(0);
    await kill();
    rpc.set(undefined);
    await start();
    await expectOneTopUpOneSweep(wallet, collectionBefore);
  });
});
