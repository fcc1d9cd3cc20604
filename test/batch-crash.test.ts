import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Address } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type DatabaseHandle } from '../src/store/db.js';
import type { PayoutKind, PayoutRow } from '../src/store/schema.js';
import { deployTestBatcher } from './helpers/batcher.js';
import { createTestChain, mineUntil, type TestChain } from './helpers/chain.js';
import { createTestDatabase, dbKinds, type TestDatabase } from './helpers/db.js';
import { importWallets, newWallet, signedWithdraw } from './helpers/payouts.js';
import { type ServiceProcess, spawnService, toV2Json, writeJson } from './helpers/process.js';
import {
  type BusinessClient,
  type Collector,
  createBusinessClient,
  createTestQueues,
  type TestQueues,
} from './helpers/rabbit.js';
import { randomAddress, TEST_MASTER_KEY, TEST_SIGN_KEY, testConfig, until } from './helpers/service.js';

/**
 * A service SIGKILLed in the middle of a batch (issue 14): once with the batch sent and not yet in a block,
 * once with it in a block and not yet final (its payouts not settled). After the restart there is one
 * batch transaction, and each of its payouts is answered exactly once, paid exactly.
 */

const E6 = 1_000_000n;
const CONFIRM = 3;

describe.each(dbKinds)('a service killed mid-batch on %s', (kind) => {
  const dir = mkdtempSync(join(tmpdir(), 'm2p-batch-crash-'));
  const collection = newWallet();
  let chain: TestChain;
  let db: TestDatabase;
  let view: DatabaseHandle;
  let queues: TestQueues;
  let business: BusinessClient;
  let responses: Collector;
  let configPath: string;
  let service: ServiceProcess | undefined;
  const env = { PAYMENT_SIGN_KEY: TEST_SIGN_KEY, PAYMENT_MASTER_KEY: TEST_MASTER_KEY };

  beforeAll(async () => {
    chain = await createTestChain({ noMining: true });
    await chain.deployToken();
    await chain.setEthBalance(collection.address, 10n ** 19n);
    await chain.mint(collection.address, 100_000n * E6);
    const batcher = await deployTestBatcher(chain, collection);
    db = await createTestDatabase(kind);
    await importWallets(db.config, [collection]);
    view = await createDatabase(db.config);
    queues = createTestQueues();
    business = await createBusinessClient();
    responses = await business.collect(queues.withdrawResp);
    const config = testConfig({
      chain,
      queues,
      db: db.config,
      confirmHeight: CONFIRM,
      collectionAddressLc: collection.address,
    });
    const json = toV2Json(config);
    (json.eth_config as Record<string, unknown>).batch = {
      enabled: true,
      address: batcher,
      maxSize: 100,
      maxWaitMs: 1_000,
    };
    configPath = join(dir, 'config.json');
    writeJson(configPath, json);
  });
  afterAll(async () => {
    service?.child.kill('SIGTERM');
    await service?.exited;
    await view?.close();
    await responses?.stop();
    await business?.close();
    await queues?.cleanup();
    await db?.cleanup();
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
  const rowsOf = (k: PayoutKind) =>
    view.db
      .selectFrom('payouts')
      .selectAll()
      .where('kind', '=', k)
      .orderBy('created_at')
      .execute() as Promise<PayoutRow[]>;
  const answersOf = (id: string) =>
    responses.messages
      .map((m) => m.json as { queue_id: string; status: number; tx_hash: string })
      .filter((a) => a.queue_id === id);

  /**
   * 20 withdrawals the collection wallet pays, gathered into batches (one, unless the service took them
   * in over more than `maxWaitMs`); resolves them once every batch of theirs is sent, none mined.
   */
  async function batchOf(label: string) {
    const jobs = Array.from({ length: 20 }, (_, i) => ({
      id: `${label}-${kind}-${i}`,
      to: randomAddress(),
      amount: BigInt(i + 1) * E6,
    }));
    for (const j of jobs) {
      await business.publishRequest(
        queues.withdraw,
        signedWithdraw({
          queue_id: j.id,
          from_address: randomAddress(),
          to_address: j.to,
          amount: String(j.amount / E6),
        }),
      );
    }
    // The allowance first: an approve of the engine's own, mined here (the first time only).
    await mineUntil(
      chain,
      async () => (await rowsOf('approve')).some((r) => r.state === 'mined' || r.state === 'confirmed'),
      'the batcher approved',
    );
    // Then every payout batched and every batch sent, nothing mined: no block comes meanwhile.
    await until(
      async () => {
        const rows = await jobRows(jobs);
        if (rows.length < jobs.length || rows.some((r) => r.state !== 'batched')) return false;
        const carriers = await carriersOf(rows);
        return carriers.every((c) => c.state === 'sent');
      },
      30_000,
      'every payout in a batch that is sent',
    );
    return jobs;
  }
  const jobRows = (jobs: { id: string }[]) =>
    view.db
      .selectFrom('payouts')
      .selectAll()
      .where(
        'queue_id',
        'in',
        jobs.map((j) => j.id),
      )
      .execute() as Promise<PayoutRow[]>;
  const carriersOf = async (rows: PayoutRow[]) => {
    const ids = [...new Set(rows.map((r) => r.batch_id).filter((b): b is string => b !== null))];
    return (await rowsOf('batch')).filter((b) => ids.includes(b.queue_id));
  };

  /** Every payout answered once, paid, by its batch's one transaction; resolves how many batches. */
  async function expectEachPaidOnce(jobs: { id: string; to: Address; amount: bigint }[]): Promise<number> {
    await mineUntil(chain, () => jobs.every((j) => answersOf(j.id).length > 0), 'every answer', 60);
    await chain.mine(CONFIRM);
    await new Promise((r) => setTimeout(r, 1_500));
    const rows = await jobRows(jobs);
    const carriers = await carriersOf(rows);
    for (const c of carriers) {
      expect(c.state).toBe('confirmed');
      const signed = await view.db
        .selectFrom('payout_txs')
        .select('tx_hash')
        .where('queue_id', '=', c.queue_id)
        .execute();
      expect(signed.map((t) => t.tx_hash)).toEqual([c.tx_hash]);
    }
    for (const j of jobs) {
      const answers = answersOf(j.id);
      expect(answers, j.id).toHaveLength(1);
      const carrier = carriers.find((c) => c.queue_id === rows.find((r) => r.queue_id === j.id)?.batch_id);
      expect(answers[0], JSON.stringify(answers[0])).toMatchObject({ status: 1, tx_hash: carrier?.tx_hash });
      expect(await chain.balanceOf(j.to)).toBe(j.amount);
    }
    return carriers.length;
  }

  it('SIGKILL with the batch sent, not yet in a block: one batch transaction, one answer each', async () => {
    await start();
    const jobs = await batchOf('sent');
    await kill();
    await start();
    const batches = await expectEachPaidOnce(jobs);
    // Its deployment, one approval, the batches: nothing else left the collection wallet.
    expect(await chain.publicClient.getTransactionCount({ address: collection.address })).toBe(2 + batches);
  });

  it('SIGKILL with the batch in a block, its payouts not yet settled: one answer each', async () => {
    if (!service) await start();
    const before = await chain.publicClient.getTransactionCount({ address: collection.address });
    const jobs = await batchOf('mined');
    await chain.mine(1);
    await until(
      async () => (await carriersOf(await jobRows(jobs))).every((c) => c.state === 'mined'),
      30_000,
      'the batches mined',
    );
    expect(jobs.some((j) => answersOf(j.id).length > 0)).toBe(false);
    await kill();
    await start();
    const batches = await expectEachPaidOnce(jobs);
    expect(await chain.publicClient.getTransactionCount({ address: collection.address })).toBe(
      before + batches,
    );
  });
});
