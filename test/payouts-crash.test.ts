import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/store/db.js';
import { createTestChain, type TestChain } from './helpers/chain.js';
import { createTestDatabase, dbKinds } from './helpers/db.js';
import { importWallets, newWallet, queueId, signedWithdraw } from './helpers/payouts.js';
import { spawnService, toV2Json, writeJson } from './helpers/process.js';
import { createBusinessClient, createTestQueues } from './helpers/rabbit.js';
import { randomAddress, TEST_MASTER_KEY, TEST_SIGN_KEY, testConfig, until } from './helpers/service.js';

const CONFIRM = 3;
const USDT = 1_000_000n;

describe.each(dbKinds)('a service stopped mid-flow on %s', (kind) => {
  let chain: TestChain;
  const dir = mkdtempSync(join(tmpdir(), 'm2p-crash-'));

  beforeAll(async () => {
    chain = await createTestChain({ noMining: true });
    await chain.deployToken();
  });
  afterAll(async () => {
    await chain?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['SIGKILL', 'SIGTERM'] as const)(
    '%s: exactly one transfer and one response for each of 20 payouts after a restart',
    async (signal) => {
      const wallet = newWallet();
      await chain.setEthBalance(wallet.address, 10n ** 19n);
      await chain.mint(wallet.address, 1_000n * USDT);
      const db = await createTestDatabase(kind);
      await importWallets(db.config, [wallet]);
      const queues = createTestQueues();
      const config = testConfig({ chain, queues, db: db.config, confirmHeight: CONFIRM });
      const configPath = join(dir, `config-${kind}.json`);
      writeJson(configPath, toV2Json(config));
      const env = { PAYMENT_SIGN_KEY: TEST_SIGN_KEY, PAYMENT_MASTER_KEY: TEST_MASTER_KEY };
      const business = await createBusinessClient();
      const responses = await business.collect(queues.withdrawResp);
      const view = await createDatabase(db.config); // the test's own look at the service's database
      let service = spawnService(configPath, env);
      try {
        await service.waitForLog(/"msg":"service started"/);
        const jobs = Array.from({ length: 20 }, (_, i) => ({
          id: queueId('crash'),
          to: randomAddress(),
          amount: BigInt(i + 1),
        }));
        for (const j of jobs) {
          await business.publishRequest(
            queues.withdraw,
            signedWithdraw({
              queue_id: j.id,
              from_address: wallet.address,
              to_address: j.to,
              amount: j.amount.toString(),
            }),
          );
        }
        // Kill it while payouts are in flight: some signed or sent, one block mined under some of them.
        await until(
          async () => {
            const rows = await view.db
              .selectFrom('payouts')
              .select('state')
              .where('state', 'in', ['signed', 'sent'])
              .execute();
            return rows.length >= 5;
          },
          30_000,
          'payouts in flight',
        );
        await chain.mine(1);
        await new Promise((r) => setTimeout(r, 100));
        service.child.kill(signal);
        const code = await service.exited;
        // SIGTERM drains and exits 0 (PROTOCOL §3); SIGKILL is a crash.
        if (signal === 'SIGTERM') expect(code).toBe(0);
        const states = await view.db.selectFrom('payouts').select('state').execute();
        expect(states.length).toBeGreaterThan(0);

        service = spawnService(configPath, env);
        await service.waitForLog(/"msg":"service started"/);
        for (
          let i = 0;
          i < 60 &&
          !jobs.every((j) =>
            responses.messages.some((m) => (m.json as { queue_id: string }).queue_id === j.id),
          );
          i++
        ) {
          await chain.mine(1);
          await new Promise((r) => setTimeout(r, 250));
        }
        await chain.mine(CONFIRM + 2);
        await new Promise((r) => setTimeout(r, 1_500));

        for (const j of jobs) {
          const answers = responses.messages
            .map((m) => m.json as { queue_id: string; status: number })
            .filter((m) => m.queue_id === j.id);
          expect(answers, j.id).toHaveLength(1);
          expect(answers[0]!.status).toBe(1);
          expect(await chain.balanceOf(j.to)).toBe(j.amount * USDT);
        }
        expect(await chain.publicClient.getTransactionCount({ address: wallet.address })).toBe(20);
        expect(await chain.balanceOf(wallet.address)).toBe(1_000n * USDT - 210n * USDT);
      } finally {
        service.child.kill('SIGTERM');
        await service.exited;
        await view.close();
        await responses.stop();
        await business.close();
        await queues.cleanup();
        await db.cleanup();
      }
    },
  );
});
