import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config/types.js';
import { createDatabase, type DatabaseHandle } from '../src/store/db.js';
import { countUnsentOutbox } from '../src/store/repos/outbox.js';
import { createTestChain, mineUntil, type TestChain } from './helpers/chain.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { importWallets, newWallet, queueId, signedWithdraw, type TestWallet } from './helpers/payouts.js';
import { type ServiceProcess, spawnService, toV2Json, writeJson } from './helpers/process.js';
import {
  type BusinessClient,
  type Collector,
  createBusinessClient,
  createTestQueues,
} from './helpers/rabbit.js';
import { startThrottlingRpc } from './helpers/rpc-proxy.js';
import {
  randomAddress,
  signedTopup,
  TEST_MASTER_KEY,
  TEST_SIGN_KEY,
  testConfig,
  until,
} from './helpers/service.js';

const CONFIRM = 2;
const USDT = 1_000_000n;
const env = { PAYMENT_SIGN_KEY: TEST_SIGN_KEY, PAYMENT_MASTER_KEY: TEST_MASTER_KEY };

let chain: TestChain;
const dir = mkdtempSync(join(tmpdir(), 'm2p-instances-'));

beforeAll(async () => {
  chain = await createTestChain({ noMining: true });
  await chain.deployToken();
  await chain.mint(chain.accounts[1]!.address, 1_000_000n * USDT);
});
afterAll(async () => {
  await chain?.stop();
  rmSync(dir, { recursive: true, force: true });
});

let configCount = 0;
function writeConfig(config: Config): string {
  const path = join(dir, `config-${++configCount}.json`);
  writeJson(path, toV2Json(config));
  return path;
}

/** The URL of a service process's HTTP server, from its log. */
async function httpUrl(service: ServiceProcess): Promise<string> {
  const line = await service.waitForLog(/"msg":"http listening"/);
  return (JSON.parse(line) as { url: string }).url;
}

async function stopProcess(service: ServiceProcess | undefined) {
  if (!service || service.child.exitCode !== null || service.child.signalCode !== null) return;
  service.child.kill('SIGTERM');
  await service.exited;
}

interface Answer {
  address?: string;
  queue_id?: string;
  status: number;
}

// On SQLite a second instance waits for the first (one writer per file). On MySQL every instance runs and
// leases share the work out: test/cluster.test.ts.
describe.each(['sqlite'] as const)('two service processes on one %s database', (kind) => {
  it('the second waits as a standby (health 200, ready 503), takes over when the first is killed, and every request is answered exactly once', async () => {
    const wallet: TestWallet = newWallet();
    await chain.setEthBalance(wallet.address, 10n ** 19n);
    await chain.mint(wallet.address, 1_000n * USDT);
    const db: TestDatabase = await createTestDatabase(kind);
    await importWallets(db.config, [wallet]);
    const queues = createTestQueues();
    const configPath = writeConfig(testConfig({ chain, queues, db: db.config, confirmHeight: CONFIRM }));
    const business: BusinessClient = await createBusinessClient();
    const topups: Collector = await business.collect(queues.topupResp);
    const withdrawals: Collector = await business.collect(queues.withdrawResp);
    const view: DatabaseHandle = await createDatabase(db.config);
    const answersFor = (c: Collector, match: (a: Answer) => boolean) =>
      c.messages.map((m) => m.json as Answer).filter(match);
    const depositStatuses = (address: string) =>
      answersFor(topups, (a) => a.address === address).map((a) => a.status);
    const payoutAnswers = (id: string) => answersFor(withdrawals, (a) => a.queue_id === id);

    let first: ServiceProcess | undefined;
    let second: ServiceProcess | undefined;
    try {
      first = spawnService(configPath, env);
      await first.waitForLog(/"msg":"service started"/);
      second = spawnService(configPath, env);
      await second.waitForLog(/waiting as a standby/);

      // The standby answers /health, and /ready says why it is not ready.
      const url = await httpUrl(second);
      expect((await fetch(`${url}/health`)).status).toBe(200);
      const ready = await fetch(`${url}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.text()).toMatch(/instance: standby: another instance holds the database/);

      // Work while both run: a deposit and a withdrawal.
      const depositTo = randomAddress();
      await business.publishRequest(queues.topup, signedTopup(depositTo));
      await until(
        async () =>
          (await view.db.selectFrom('watched_addresses').select('address').execute()).some(
            (r) => r.address === depositTo,
          ),
        20_000,
        'the topup registered',
      );
      await chain.transfer(1, depositTo, 5n * USDT);
      const w1 = { id: queueId('inst'), to: randomAddress() };
      await business.publishRequest(
        queues.withdraw,
        signedWithdraw({ queue_id: w1.id, from_address: wallet.address, to_address: w1.to, amount: '3' }),
      );
      await mineUntil(
        chain,
        () => depositStatuses(depositTo).includes(1) && payoutAnswers(w1.id).length > 0,
        'the deposit final and the withdrawal answered, with two instances up',
      );
      // Everything published and marked sent: a kill now leaves nothing in the duplicate window.
      await until(async () => (await countUnsentOutbox(view.db)) === 0, 20_000, 'the outbox sent');
      expect(second.output.some((l) => /"msg":"service started"/.test(l))).toBe(false);

      // The first dies; the standby takes over and does the work that comes meanwhile.
      first.child.kill('SIGKILL');
      await first.exited;
      const depositTo2 = randomAddress();
      await business.publishRequest(queues.topup, signedTopup(depositTo2));
      const w2 = { id: queueId('inst'), to: randomAddress() };
      await business.publishRequest(
        queues.withdraw,
        signedWithdraw({ queue_id: w2.id, from_address: wallet.address, to_address: w2.to, amount: '4' }),
      );
      await second.waitForLog(/took over the database/, 30_000);
      await second.waitForLog(/"msg":"service started"/);
      await until(
        async () =>
          (await view.db.selectFrom('watched_addresses').select('address').execute()).some(
            (r) => r.address === depositTo2,
          ),
        20_000,
        'the second topup registered',
      );
      await chain.transfer(1, depositTo2, 6n * USDT);
      await mineUntil(
        chain,
        () => depositStatuses(depositTo2).includes(1) && payoutAnswers(w2.id).length > 0,
        'the work after the takeover done',
      );
      await chain.mine(CONFIRM + 2);
      await new Promise((r) => setTimeout(r, 1_500));

      // Exactly one answer each, in order.
      expect(depositStatuses(depositTo)).toEqual([2, 1]);
      expect(depositStatuses(depositTo2)).toEqual([2, 1]);
      for (const w of [w1, w2]) {
        expect(payoutAnswers(w.id), w.id).toHaveLength(1);
        expect(payoutAnswers(w.id)[0]!.status).toBe(1);
      }
      expect(await chain.balanceOf(w1.to)).toBe(3n * USDT);
      expect(await chain.balanceOf(w2.to)).toBe(4n * USDT);
      expect(await chain.publicClient.getTransactionCount({ address: wallet.address })).toBe(2);
    } finally {
      await stopProcess(second);
      await stopProcess(first);
      await view.close();
      await topups.stop();
      await withdrawals.stop();
      await business.close();
      await queues.cleanup();
      await db.cleanup();
    }
  });
});

describe('the chain id check at start', () => {
  it('retries a node that answers 429 and starts; each retry is logged', async () => {
    const proxy = await startThrottlingRpc(chain.anvil.rpcUrl, 3);
    const db = await createTestDatabase('sqlite');
    const queues = createTestQueues();
    const configPath = writeConfig(testConfig({ chain, queues, db: db.config, rpcUrl: proxy.url }));
    let service: ServiceProcess | undefined;
    try {
      service = spawnService(configPath, env);
      await service.waitForLog(/"msg":"service started"/);
      expect(proxy.throttled()).toBe(3);
      const retries = service.output.filter((l) =>
        /could not read the chain id from the node; retrying/.test(l),
      );
      expect(retries).toHaveLength(3);
      expect((await fetch(`${await httpUrl(service)}/health`)).status).toBe(200);
      expect(service.child.exitCode).toBe(null);
    } finally {
      await stopProcess(service);
      await proxy.close();
      await queues.cleanup();
      await db.cleanup();
    }
  });

  it('still stops, with the mismatch line, when the node is on another chain', async () => {
    const db = await createTestDatabase('sqlite');
    const queues = createTestQueues();
    const config = testConfig({ chain, queues, db: db.config });
    config.chain.chainId = 999;
    const service = spawnService(writeConfig(config), env);
    try {
      expect(await service.exited).toBe(1);
      expect(service.output.join('\n')).toMatch(
        new RegExp(`the config says chain id 999 but its node is on chain ${chain.anvil.chainId}`),
      );
    } finally {
      await stopProcess(service);
      await queues.cleanup();
      await db.cleanup();
    }
  });
});
