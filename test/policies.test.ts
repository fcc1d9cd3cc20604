import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NATIVE_ADDRESS_LC } from '../src/config/chains.js';
import { ApprovalError, decideHeldPayout } from '../src/payouts/approve.js';
import { createDatabase } from '../src/store/db.js';
import { createTestChain, mineUntil, type TestChain } from './helpers/chain.js';
import { runCli } from './helpers/cli.js';
import { createTestDatabase, dbKinds } from './helpers/db.js';
import { importWallets, newWallet, queueId, signedWithdraw } from './helpers/payouts.js';
import { spawnService, toV2Json, writeJson } from './helpers/process.js';
import { type Collector, createBusinessClient, createTestQueues } from './helpers/rabbit.js';
import { randomAddress, TEST_MASTER_KEY, TEST_SIGN_KEY, testConfig, until } from './helpers/service.js';
import { startStack, type TestStack } from './helpers/stack.js';

const USDT = 1_000_000n;
const ETH = 10n ** 18n;

interface PayoutMsg {
  queue_id: string;
  status: number;
  tx_hash: string;
  error?: string;
  error_message?: string;
}

/**
 * Withdrawal policies end to end (PROTOCOL §2.11): the real service on anvil, RabbitMQ and each database.
 * USDT: at most 500 a request, 300 a day per from_address, above 200 held for the operator. The native
 * coin: one allowed recipient, at most 1 ETH a day in total.
 */
describe.each(dbKinds)('withdrawal policies on %s', (kind) => {
  let stack: TestStack;
  let withdrawResp: Collector;
  let payResp: Collector;
  const collection = newWallet();
  const user = newWallet();
  const daily = newWallet();
  const race = newWallet();
  const held = newWallet();
  const rejected = newWallet();
  const allowed = randomAddress();

  const answers = (id: string): PayoutMsg[] =>
    [...withdrawResp.messages, ...payResp.messages]
      .map((m) => m.json as PayoutMsg)
      .filter((m) => m.queue_id === id);
  const answer = async (id: string) => {
    await mineUntil(stack.chain, () => answers(id).length > 0, `the answer to ${id}`);
    return answers(id)[0]!;
  };
  const txsOf = (id: string) =>
    stack.service.db.selectFrom('payout_txs').select('tx_hash').where('queue_id', '=', id).execute();
  const approvalDeps = () => ({
    db: stack.service.db,
    chains: stack.config.chains,
    rmq: stack.config.rmq,
    signKey: TEST_SIGN_KEY,
  });

  beforeAll(async () => {
    stack = await startStack({
      db: kind,
      wallets: [user, daily, race, held, rejected],
      collection,
      collect: ['withdrawResp', 'payResp'],
      async prepareChain(c) {
        for (const w of [collection, user, daily, race, held, rejected]) {
          await c.setEthBalance(w.address, 10n * ETH);
          await c.mint(w.address, 1_000n * USDT);
        }
      },
      configure(config) {
        config.chain.policies = {
          USDT: {
            maxPerRequestRaw: 500n * USDT,
            dailyMaxPerFromRaw: 300n * USDT,
            approvalAboveRaw: 200n * USDT,
          },
          ETH: { allowToLc: [allowed], dailyMaxTotalRaw: 1n * ETH },
        };
      },
    });
    withdrawResp = stack.collector('withdrawResp');
    payResp = stack.collector('payResp');
  });

  afterAll(async () => {
    await stack?.teardown();
  });

  it('refuses a request above maxPerRequest with policy_violation, naming the rule and its limit; sends nothing', async () => {
    const id = queueId('max');
    const to = randomAddress();
    await stack.withdraw({ queue_id: id, from_address: user.address, to_address: to, amount: '500.000001' });
    const msg = await answer(id);
    expect(msg).toMatchObject({ status: 0, error: 'policy_violation', tx_hash: '' });
    expect(msg.error_message).toBe(
      'policy maxPerRequest: 500.000001 USDT is above the limit of 500 USDT per request on ETH',
    );
    expect(await txsOf(id)).toHaveLength(0);
    expect(await stack.chain.balanceOf(to)).toBe(0n);
  });

  it('refuses the native coin to a recipient not on allowTo, and pays the allowed one', async () => {
    const refused = queueId('allow');
    const paid = queueId('allow');
    const other = randomAddress();
    await stack.withdraw({
      queue_id: refused,
      from_address: user.address,
      to_address: other,
      amount: '0.1',
      symbol: 'ETH',
    });
    await stack.withdraw({
      queue_id: paid,
      from_address: user.address,
      to_address: allowed,
      amount: '0.1',
      symbol: 'ETH',
    });
    expect(await answer(refused)).toMatchObject({
      status: 0,
      error: 'policy_violation',
      error_message: expect.stringMatching(/^policy allowTo: .* is not an allowed recipient of ETH on ETH/),
    });
    expect(await answer(paid)).toMatchObject({ status: 1 });
    expect(await stack.chain.publicClient.getBalance({ address: other as `0x${string}` })).toBe(0n);
    expect((await stack.payout(paid))?.token_address).toBe(NATIVE_ADDRESS_LC);
  });

  it('refuses what would take the asset past dailyMaxTotal in 24 hours', async () => {
    // 0.1 ETH was paid above: 0.1 + 0.95 > 1.
    const id = queueId('total');
    await stack.withdraw({
      queue_id: id,
      from_address: user.address,
      to_address: allowed,
      amount: '0.95',
      symbol: 'ETH',
    });
    expect(await answer(id)).toMatchObject({
      status: 0,
      error: 'policy_violation',
      error_message: expect.stringContaining(
        'policy dailyMaxTotal: 0.95 ETH would make 1.05 ETH in 24 hours (0.1 ETH before), above the limit of 1 ETH',
      ),
    });
    const ok = queueId('total');
    await stack.withdraw({
      queue_id: ok,
      from_address: user.address,
      to_address: allowed,
      amount: '0.9',
      symbol: 'ETH',
    });
    expect(await answer(ok)).toMatchObject({ status: 1 });
  });

  it('refuses what would take one from_address past dailyMaxPerFrom, counting only its own requests', async () => {
    const [a, b, c] = [queueId('day'), queueId('day'), queueId('day')];
    await stack.withdraw({
      queue_id: a,
      from_address: daily.address,
      to_address: randomAddress(),
      amount: '150',
    });
    await stack.withdraw({
      queue_id: b,
      from_address: daily.address,
      to_address: randomAddress(),
      amount: '150',
    });
    expect(await answer(a)).toMatchObject({ status: 1 });
    expect(await answer(b)).toMatchObject({ status: 1 });
    await stack.withdraw({
      queue_id: c,
      from_address: daily.address,
      to_address: randomAddress(),
      amount: '0.01',
    });
    expect(await answer(c)).toMatchObject({
      status: 0,
      error: 'policy_violation',
      error_message: expect.stringContaining('policy dailyMaxPerFrom: 0.01 USDT from'),
    });
    // Another wallet's day is its own.
    const d = queueId('day');
    await stack.withdraw({
      queue_id: d,
      from_address: user.address,
      to_address: randomAddress(),
      amount: '150',
    });
    expect(await answer(d)).toMatchObject({ status: 1 });
  });

  it('lets requests arriving at once through a daily limit only as far as the limit goes', async () => {
    // Ten requests of 40 at once on the withdraw queue (its consumer runs them side by side) and one
    // on the pay queue: 300 a day lets exactly seven through.
    const ids = Array.from({ length: 11 }, () => queueId('race'));
    await Promise.all(
      ids.map((id, i) =>
        stack.withdraw(
          {
            queue_id: id,
            from_address: race.address,
            to_address: randomAddress(),
            amount: '40',
            order_id: `o-${i}`,
          },
          i === 10 ? stack.queues.pay : stack.queues.withdraw,
        ),
      ),
    );
    const rows = await until(
      async () => {
        const found = await Promise.all(ids.map((id) => stack.payout(id)));
        return found.every((r) => r !== undefined) ? found : undefined;
      },
      20_000,
      'the eleven requests stored',
    );
    const refused = rows.filter((r) => r!.state === 'failed');
    expect(refused.map((r) => r!.error_code)).toEqual([
      'policy_violation',
      'policy_violation',
      'policy_violation',
      'policy_violation',
    ]);
    expect(rows.length - refused.length).toBe(7);
  });

  it('holds a payout above approvalAbove, unsigned across a restart, until approved; then pays and answers once', async () => {
    const id = queueId('held');
    const to = randomAddress();
    await stack.withdraw({ queue_id: id, from_address: held.address, to_address: to, amount: '250' });
    await stack.waitState(id, ['held']);
    await stack.chain.mine(5);
    await stack.settled();
    expect((await stack.payout(id))?.state).toBe('held');
    expect(await txsOf(id)).toHaveLength(0);
    expect(answers(id)).toHaveLength(0);
    const status = await until(
      async () => {
        const s = (await (await fetch(`${stack.baseUrl()}/status`)).json()) as {
          payouts: { counts: Record<string, number>; held: { count: number; list: { queueId: string }[] } };
        };
        return s.payouts.counts.held === 1 ? s : undefined;
      },
      30_000,
      'the held payout on /status',
    );
    expect(status.payouts.held.count).toBe(1);
    expect(status.payouts.held.list.map((p) => p.queueId)).toEqual([id]);

    await stack.restart();
    await stack.chain.mine(2);
    await stack.settled();
    expect((await stack.payout(id))?.state).toBe('held');

    expect(await decideHeldPayout(approvalDeps(), id, { approve: true })).toMatchObject({ changed: true });
    expect(await answer(id)).toMatchObject({ status: 1 });
    await mineUntil(stack.chain, async () => (await stack.payout(id))?.state === 'confirmed', 'confirmed');
    expect(await stack.chain.balanceOf(to)).toBe(250n * USDT);
    // The same word again changes nothing; the other word is refused.
    const again = await decideHeldPayout(approvalDeps(), id, { approve: true });
    expect(again).toEqual({ line: expect.stringContaining('already approved'), changed: false });
    await expect(decideHeldPayout(approvalDeps(), id, { reject: 'too late' })).rejects.toBeInstanceOf(
      ApprovalError,
    );
    await stack.chain.mine(3);
    await stack.settled();
    expect(answers(id)).toHaveLength(1);
    expect(await txsOf(id)).toHaveLength(1);
    const history = await stack.service.db
      .selectFrom('audit_log')
      .select(['from_state', 'to_state', 'detail'])
      .where('ref', '=', id)
      .orderBy('id')
      .execute();
    expect(history.slice(0, 2)).toEqual([
      expect.objectContaining({ from_state: null, to_state: 'held' }),
      expect.objectContaining({
        from_state: 'held',
        to_state: 'accepted',
        detail: '{"approvedBy":"operator"}',
      }),
    ]);
  });

  it('answers a rejected payout status 0 rejected exactly once, and never sends it', async () => {
    const id = queueId('rejected');
    const to = randomAddress();
    await stack.withdraw({ queue_id: id, from_address: rejected.address, to_address: to, amount: '201' });
    await stack.waitState(id, ['held']);
    expect(await decideHeldPayout(approvalDeps(), id, { reject: 'not this one' })).toMatchObject({
      changed: true,
    });
    expect(await answer(id)).toMatchObject({
      status: 0,
      error: 'rejected',
      error_message: 'not this one',
      tx_hash: '',
    });
    const again = await decideHeldPayout(approvalDeps(), id, { reject: 'again' });
    expect(again).toEqual({ line: expect.stringContaining('already rejected'), changed: false });
    await expect(decideHeldPayout(approvalDeps(), id, { approve: true })).rejects.toBeInstanceOf(
      ApprovalError,
    );
    await stack.chain.mine(5);
    await stack.settled();
    expect(answers(id)).toHaveLength(1);
    expect(await txsOf(id)).toHaveLength(0);
    expect(await stack.chain.balanceOf(to)).toBe(0n);
    const row = await stack.payout(id);
    expect(row).toMatchObject({ state: 'failed', error_code: 'rejected', error_message: 'not this one' });
    // A rejected payout no longer counts against the day: 200 after the rejected 201 is within 300.
    const next = queueId('rejected');
    await stack.withdraw({ queue_id: next, from_address: rejected.address, to_address: to, amount: '200' });
    expect(await answer(next)).toMatchObject({ status: 1 });
  });
});

/**
 * The operator's command line against a service process killed with SIGKILL while payouts are held:
 * the words given while it is down take effect when it is back, and each payout is answered once.
 */
describe.each(dbKinds)('held payouts and a service killed with SIGKILL on %s', (kind) => {
  let chain: TestChain;
  const dir = mkdtempSync(join(tmpdir(), 'm2p-policies-'));

  beforeAll(async () => {
    chain = await createTestChain({ noMining: true });
    await chain.deployToken();
  });
  afterAll(async () => {
    await chain?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('approve and reject given while the service is down: paid once, answered once each', async () => {
    const wallet = newWallet();
    await chain.setEthBalance(wallet.address, 10n * ETH);
    await chain.mint(wallet.address, 1_000n * USDT);
    const db = await createTestDatabase(kind);
    await importWallets(db.config, [wallet]);
    const queues = createTestQueues();
    const config = testConfig({ chain, queues, db: db.config, confirmHeight: 3 });
    const json = toV2Json(config) as { eth_config: Record<string, unknown> };
    json.eth_config.policies = { usdt: { approvalAbove: '10' } };
    const configPath = join(dir, `config-${kind}.json`);
    writeJson(configPath, json);
    const env = { PAYMENT_SIGN_KEY: TEST_SIGN_KEY, PAYMENT_MASTER_KEY: TEST_MASTER_KEY };
    const cli = (args: string[]) =>
      runCli([...args, '--config', configPath], { env: { ...env, CONFIG_PATH: '' } });
    const business = await createBusinessClient();
    const responses = await business.collect(queues.withdrawResp);
    const view = await createDatabase(db.config);
    const answersOf = (id: string) =>
      responses.messages.map((m) => m.json as PayoutMsg).filter((m) => m.queue_id === id);
    const stateOf = async (id: string) =>
      (await view.db.selectFrom('payouts').select('state').where('queue_id', '=', id).executeTakeFirst())
        ?.state;
    let service = spawnService(configPath, env);
    try {
      await service.waitForLog(/"msg":"service started"/);
      const jobs = { approved: queueId('ok'), rejected: queueId('no'), small: queueId('small') };
      const to = { approved: randomAddress(), rejected: randomAddress(), small: randomAddress() };
      const amounts = { approved: '20', rejected: '30', small: '10' };
      for (const k of ['approved', 'rejected', 'small'] as const) {
        await business.publishRequest(
          queues.withdraw,
          signedWithdraw({
            queue_id: jobs[k],
            from_address: wallet.address,
            to_address: to[k],
            amount: amounts[k],
          }),
        );
      }
      await until(
        async () =>
          (await stateOf(jobs.approved)) === 'held' &&
          (await stateOf(jobs.rejected)) === 'held' &&
          (await stateOf(jobs.small)) !== undefined,
        30_000,
        'two payouts held',
      );
      service.child.kill('SIGKILL');
      await service.exited;

      const approve = await cli(['payout', 'approve', jobs.approved]);
      expect(approve.code, approve.stderr).toBe(0);
      expect(approve.stdout).toMatch(/approved/);
      const reject = await cli(['payout', 'reject', jobs.rejected, '--reason', 'over budget']);
      expect(reject.code, reject.stderr).toBe(0);
      const again = await cli(['payout', 'approve', jobs.approved]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toMatch(/already approved/);
      const crossed = await cli(['payout', 'reject', jobs.approved]);
      expect(crossed.code).toBe(1);
      expect(crossed.stderr).toMatch(/was approved already/);
      const notHeld = await cli(['payout', 'approve', jobs.small]);
      expect(notHeld.code).toBe(1);
      expect(notHeld.stderr).toMatch(/not held for approval/);

      service = spawnService(configPath, env);
      await service.waitForLog(/"msg":"service started"/);
      await mineUntil(
        chain,
        () => Object.values(jobs).every((id) => answersOf(id).length > 0),
        'every answer',
      );
      await chain.mine(5);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(answersOf(jobs.approved)).toEqual([expect.objectContaining({ status: 1 })]);
      expect(answersOf(jobs.small)).toEqual([expect.objectContaining({ status: 1 })]);
      expect(answersOf(jobs.rejected)).toEqual([
        expect.objectContaining({ status: 0, error: 'rejected', error_message: 'over budget', tx_hash: '' }),
      ]);
      expect(await chain.balanceOf(to.approved)).toBe(20n * USDT);
      expect(await chain.balanceOf(to.rejected)).toBe(0n);
      expect(await chain.publicClient.getTransactionCount({ address: wallet.address })).toBe(2);
    } finally {
      service.child.kill('SIGTERM');
      await service.exited;
      await view.close();
      await responses.stop();
      await business.close();
      await queues.cleanup();
      await db.cleanup();
    }
  });
});
