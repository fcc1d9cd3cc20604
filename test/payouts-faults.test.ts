import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPayoutClient } from '../src/chain/payout-client.js';
import { ResolveError, resolvePayout } from '../src/payouts/resolve.js';
import { createTestChain, type TestChain } from './helpers/chain.js';
import { dbKinds } from './helpers/db.js';
import { newWallet, queueId } from './helpers/payouts.js';
import { type InterceptingRpc, startInterceptingRpc } from './helpers/rpc-intercept.js';
import { randomAddress, TEST_SIGN_KEY, testTuning, until } from './helpers/service.js';
import { startStack, type TestStack } from './helpers/stack.js';

const CONFIRM = 3;
const REPLACE_AFTER = 2;
const USDT = 1_000_000n;
const ETH = 10n ** 18n;

interface PayoutMsg {
  queue_id: string;
  status: number;
  from_address?: string;
  tx_hash: string;
  error?: string;
  error_message?: string;
}

/**
 * Payouts behind a node that lags: receipts answered null by a backend that has not indexed them yet,
 * nonce counts at old blocks refused. Whatever the node says, a payout is never paid twice.
 */
describe.each(dbKinds)('payouts behind a lagging node on %s', (kind) => {
  let chain: TestChain;
  let rpc: InterceptingRpc;
  let stack: TestStack;
  const collection = newWallet();
  const users = [newWallet(), newWallet(), newWallet(), newWallet()];
  const tight = newWallet(); // 220 USDT: one payout of 100 in flight, then one of 120

  beforeAll(async () => {
    chain = await createTestChain({ noMining: true });
    await chain.deployToken();
    rpc = await startInterceptingRpc(chain.anvil.rpcUrl);
    stack = await startStack({
      db: kind,
      chain,
      rpcUrl: rpc.url,
      wallets: [...users, tight],
      collection,
      confirmHeight: CONFIRM,
      replaceAfterBlocks: REPLACE_AFTER,
      tuning: { ...testTuning, payouts: { unresolvedAfterBlocks: 3 } },
      collect: ['withdrawResp'],
      async prepareChain(c) {
        for (const w of [collection, ...users]) {
          await c.setEthBalance(w.address, 10n * ETH);
          await c.mint(w.address, 100n * USDT);
        }
        await c.setEthBalance(tight.address, 10n * ETH);
        await c.mint(tight.address, 220n * USDT);
      },
    });
  });

  afterAll(async () => {
    await stack?.teardown();
    await rpc?.close();
    await chain?.stop();
  });

  const answers = (id: string) =>
    stack
      .collector('withdrawResp')
      .messages.map((m) => m.json as PayoutMsg)
      .filter((m) => m.queue_id === id);

  /** Mines one block at a time, giving the service a moment after each. */
  async function mineSlowly(blocks: number) {
    for (let i = 0; i < blocks; i++) {
      await chain.mine(1);
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  async function nonceOf(id: string) {
    return Number((await stack.payout(id))!.nonce);
  }

  it('never pays again while receipts are answered null, and confirms once they are back', async () => {
    const id = queueId('lag');
    const to = randomAddress();
    // From the first broadcast on, every receipt is null, as from a backend that has not indexed them.
    rpc.set((call) => (call.method === 'eth_getTransactionReceipt' ? { result: null } : undefined));
    await stack.withdraw({ queue_id: id, from_address: users[0]!.address, to_address: to, amount: '5' });
    await stack.waitState(id, ['sent']);
    const nonce = await nonceOf(id);
    // Far past replacement and finality: the nonce is used, by our transaction, which the node mined.
    await mineSlowly(CONFIRM + REPLACE_AFTER + 6);
    const held = (await stack.payout(id))!;
    expect(held.state).toBe('sent');
    expect(Number(held.nonce)).toBe(nonce);
    expect(answers(id)).toHaveLength(0);
    expect(await chain.balanceOf(to)).toBe(5n * USDT);

    rpc.set(undefined);
    await until(
      async () => {
        await chain.mine(1);
        return answers(id).length > 0;
      },
      30_000,
      'the answer once receipts are back',
    );
    await mineSlowly(CONFIRM);
    expect(answers(id)).toEqual([expect.objectContaining({ status: 1 })]);
    expect(await chain.balanceOf(to)).toBe(5n * USDT);
  });

  it('does not refuse a payable request while a mined payout of the same wallet is not seen mined yet', async () => {
    const first = queueId('tight-a');
    const second = queueId('tight-b');
    rpc.set((call) => (call.method === 'eth_getTransactionReceipt' ? { result: null } : undefined));
    await stack.withdraw({
      queue_id: first,
      from_address: tight.address,
      to_address: randomAddress(),
      amount: '100',
    });
    await stack.waitState(first, ['sent']);
    await mineSlowly(1); // mined: the wallet holds 120, while the service still counts the 100 in flight
    // 120 is more than the collection wallet holds (100): only the wallet itself can pay it.
    await stack.withdraw({
      queue_id: second,
      from_address: tight.address,
      to_address: randomAddress(),
      amount: '120',
    });
    await mineSlowly(2);
    expect((await stack.payout(second))!.state).not.toBe('failed');
    rpc.set(undefined);
    await until(
      async () => {
        await chain.mine(1);
        return answers(first).length > 0 && answers(second).length > 0;
      },
      30_000,
      'both answers',
    );
    expect(answers(first)).toEqual([expect.objectContaining({ status: 1 })]);
    expect(answers(second)).toEqual([expect.objectContaining({ status: 1, from_address: tight.address })]);
    expect(await chain.balanceOf(tight.address)).toBe(0n);
  });

  it('does not take a null receipt of a mined payout for a reorganisation', async () => {
    const id = queueId('mined-null');
    const to = randomAddress();
    await stack.withdraw({ queue_id: id, from_address: users[1]!.address, to_address: to, amount: '2' });
    await stack.waitState(id, ['sent']);
    await chain.mine(1);
    await stack.waitState(id, ['mined']);
    rpc.set((call) => (call.method === 'eth_getTransactionReceipt' ? { result: null } : undefined));
    await mineSlowly(1); // still short of confirmHeight: the tracker looks again and finds no receipt
    const row = (await stack.payout(id))!;
    expect(row.state).toBe('mined');
    rpc.set(undefined);
    await until(
      async () => {
        await chain.mine(1);
        return answers(id).length > 0;
      },
      30_000,
      'the answer',
    );
    const history = await stack.service.db
      .selectFrom('audit_log')
      .select(['from_state', 'to_state'])
      .where('ref', '=', id)
      .orderBy('id')
      .execute();
    expect(history.filter((h) => h.from_state === 'mined' && h.to_state === 'sent')).toHaveLength(0);
    expect(answers(id)).toEqual([expect.objectContaining({ status: 1 })]);
    expect(await chain.balanceOf(to)).toBe(2n * USDT);
  });

  it('holds a payout whose nonce use the node cannot explain, and lets the operator settle it once', async () => {
    const paidId = queueId('unres-paid');
    const failedId = queueId('unres-failed');
    const to = randomAddress();
    // Receipts null, and the nonce counts of past blocks refused: which transaction used the nonce
    // cannot be established.
    rpc.set((call) => {
      if (call.method === 'eth_getTransactionReceipt') return { result: null };
      const tag = call.params?.[1];
      if (call.method === 'eth_getTransactionCount' && tag !== 'latest' && tag !== 'pending') {
        return { error: 'header not found' };
      }
      return undefined;
    });
    await stack.withdraw({ queue_id: paidId, from_address: users[2]!.address, to_address: to, amount: '3' });
    await stack.withdraw({
      queue_id: failedId,
      from_address: users[3]!.address,
      to_address: randomAddress(),
      amount: '1',
    });
    await stack.waitState(paidId, ['sent']);
    await stack.waitState(failedId, ['sent']);
    await until(
      async () => {
        await mineSlowly(1);
        const states = [(await stack.payout(paidId))!.state, (await stack.payout(failedId))!.state];
        return states.every((s) => s === 'unresolved');
      },
      30_000,
      'both payouts held unresolved',
    );
    expect(answers(paidId)).toHaveLength(0);
    rpc.set(undefined);
    // The operator is paged: the alert, and the state counts of /status.
    await stack.service.monitor.refresh();
    const status = stack.service.monitor.status();
    expect(status.alerts).toContainEqual(
      expect.objectContaining({ name: 'payout_unresolved', severity: 'critical' }),
    );
    expect(status.payouts.counts.unresolved).toBe(2);

    const deps = {
      db: stack.service.db,
      chains: stack.config.chains,
      // The node itself, not the lagging proxy the service uses.
      clientOf: () => createPayoutClient(chain.anvil.rpcUrl),
      rmq: stack.config.rmq,
      signKey: TEST_SIGN_KEY,
    };
    const paidRow = (await stack.payout(paidId))!;
    // A transaction that does not pay this payout is refused.
    const otherTx = (await stack.payout(failedId))!.tx_hash!;
    await expect(resolvePayout(deps, paidId, { paid: otherTx })).rejects.toBeInstanceOf(ResolveError);
    expect(await resolvePayout(deps, paidId, { paid: paidRow.tx_hash! })).toMatch(/confirmed/);
    expect(await resolvePayout(deps, failedId, { failed: 'checked by hand: never sent' })).toMatch(
      /not_paid/,
    );
    // Settled once: a second word changes nothing.
    await expect(resolvePayout(deps, paidId, { failed: 'again' })).rejects.toBeInstanceOf(ResolveError);

    await until(() => answers(paidId).length > 0 && answers(failedId).length > 0, 20_000, 'both answers');
    await mineSlowly(CONFIRM + 1);
    expect(answers(paidId)).toEqual([expect.objectContaining({ status: 1, tx_hash: paidRow.tx_hash })]);
    expect(answers(failedId)).toEqual([
      expect.objectContaining({ status: 0, error: 'not_paid', error_message: 'checked by hand: never sent' }),
    ]);
    expect(await chain.balanceOf(to)).toBe(3n * USDT);
    expect((await stack.payout(paidId))!.state).toBe('confirmed');
  });
});

/**
 * Finality deeper than the state a non-archive node keeps (anvil here keeps 256 blocks): a payout whose
 * nonce another transaction took is still paid anew once that transaction is final, without asking the
 * node for a nonce count at a pruned block.
 */
describe('a foreign nonce with confirmHeight above the node’s kept state', () => {
  const DEEP = 300;
  let stack: TestStack;
  const collection = newWallet();
  const user = newWallet();

  beforeAll(async () => {
    stack = await startStack({
      db: 'sqlite',
      wallets: [user],
      collection,
      confirmHeight: DEEP,
      replaceAfterBlocks: REPLACE_AFTER,
      collect: ['withdrawResp'],
      async prepareChain(c) {
        for (const w of [collection, user]) {
          await c.setEthBalance(w.address, 10n * ETH);
          await c.mint(w.address, 100n * USDT);
        }
      },
    });
  });

  afterAll(async () => {
    await stack?.teardown();
  });

  it('pays again with a new nonce once the foreign transaction is final', async () => {
    const { chain } = stack;
    const id = queueId('deep-foreign');
    const to = randomAddress();
    await stack.withdraw({ queue_id: id, from_address: user.address, to_address: to, amount: '6' });
    const sent = await stack.waitState(id, ['sent']);
    const ours = await stack.service.db
      .selectFrom('payout_txs')
      .selectAll()
      .where('tx_hash', '=', sent.tx_hash!)
      .executeTakeFirstOrThrow();
    // Someone else signs with the wallet's key: a self-transfer with the same nonce, ours dropped.
    const { privateKeyToAccount } = await import('viem/accounts');
    const block = await chain.publicClient.getBlock();
    const foreignRaw = await privateKeyToAccount(user.privateKey).signTransaction({
      chainId: chain.anvil.chainId,
      type: 'eip1559',
      to: user.address,
      value: 0n,
      gas: 21_000n,
      nonce: Number(sent.nonce),
      maxFeePerGas: BigInt(ours.max_fee_per_gas!) * 10n + block.baseFeePerGas! * 4n,
      maxPriorityFeePerGas: BigInt(ours.max_fee_per_gas!) * 5n,
    });
    await chain.testClient.dropTransaction({ hash: ours.tx_hash as `0x${string}` });
    await chain.sendRawTransaction(foreignRaw);
    for (let i = 0; i < REPLACE_AFTER + 4; i++) {
      await chain.mine(1);
      await new Promise((r) => setTimeout(r, 150));
    }
    // Far past the kept state at once: the foreign block becomes final.
    await chain.mine(DEEP);
    const answer = () =>
      stack
        .collector('withdrawResp')
        .messages.map((m) => m.json as PayoutMsg)
        .filter((m) => m.queue_id === id);
    await until(
      async () => {
        await chain.mine(1);
        const row = await stack.payout(id);
        return row?.state === 'mined' && Number(row.nonce) === Number(sent.nonce) + 1;
      },
      60_000,
      'the payout paid anew, with the next nonce',
    );
    await chain.mine(DEEP);
    await until(
      async () => {
        await chain.mine(1);
        return answer().length > 0;
      },
      60_000,
      'its answer once final',
    );
    // Its new transaction must be final too before the answer: it came with status 1.
    expect(answer()).toEqual([expect.objectContaining({ status: 1 })]);
    expect(Number((await stack.payout(id))!.nonce)).toBe(Number(sent.nonce) + 1);
    expect(await chain.balanceOf(to)).toBe(6n * USDT);
  });
});
