import { type Address, encodeFunctionData, type Hex, parseAbi, parseGwei } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatAmount, parseAmount } from '../src/money/amount.js';
import type { PayoutKind, PayoutRow } from '../src/store/schema.js';
import { deployTestBatcher } from './helpers/batcher.js';
import { mineUntil, type TestChain } from './helpers/chain.js';
import { dbKinds } from './helpers/db.js';
import { newWallet } from './helpers/payouts.js';
import { randomAddress, until } from './helpers/service.js';
import { startStack, type TestStack } from './helpers/stack.js';

/**
 * Batch payouts on anvil (issue 14, PROTOCOL §2.13): withdrawals the collection wallet pays gathered into
 * one transaction to the batcher, the allowance it draws under set by the engine, one payment the token
 * refuses (the test token's USDC-like recipient blacklist) answered `reverted` while the others are paid,
 * every answer once with the batch's hash and a share of its fee, balances exact.
 */

const E6 = 1_000_000n;
const tokenAdmin = parseAbi([
  'function setBlacklistRecipients(bool on)',
  'function addBlackList(address user)',
]);

interface Answer {
  queue_id: string;
  status: number;
  tx_hash: string;
  fee: string;
  error?: string;
  from_address: string;
}

/** Sends an owner call of the test token with a high tip: mined ahead of the service's transactions. */
async function ownerCallFirst(chain: TestChain, data: Hex) {
  await chain.walletClients[0]!.sendTransaction({
    to: chain.token,
    data,
    gas: 100_000n,
    maxPriorityFeePerGas: parseGwei('50'),
    maxFeePerGas: parseGwei('200'),
  });
}

describe.each(dbKinds)('batch payouts on %s', (kind) => {
  let stack: TestStack;
  let batcher: Address;
  const collection = newWallet();

  beforeAll(async () => {
    stack = await startStack({
      db: kind,
      collection,
      collect: ['withdrawResp'],
      prepareChain: async (c) => {
        await c.setEthBalance(collection.address, 10n ** 19n);
        await c.mint(collection.address, 1_000_000n * E6);
        batcher = await deployTestBatcher(c, collection);
      },
      configure(config) {
        // Full at 100; a window long enough that a loaded machine takes all 100 requests in before it ends.
        config.chains[0]!.batch = { enabled: true, addressLc: batcher, maxSize: 100, maxWaitMs: 10_000 };
      },
    });
  });
  afterAll(async () => {
    await stack?.teardown();
  });

  const answers = () => stack.collector('withdrawResp').messages.map((m) => m.json as Answer);
  const kindRows = (k: PayoutKind) =>
    stack.service.db.selectFrom('payouts').selectAll().where('kind', '=', k).execute() as Promise<
      PayoutRow[]
    >;

  it('pays 100 withdrawals in one batch; the one the token refuses is answered reverted, the 99 others paid', async () => {
    const { chain } = stack;
    const before = await chain.balanceOf(collection.address);
    const jobs = Array.from({ length: 100 }, (_, i) => ({
      id: `b100-${kind}-${i}`,
      to: randomAddress(),
      amount: BigInt(i + 1) * E6 + BigInt(i),
    }));
    for (const j of jobs) {
      await stack.withdraw({
        queue_id: j.id,
        from_address: randomAddress(), // not in the vault: the collection wallet pays
        to_address: j.to,
        amount: formatAmount(j.amount, 6),
      });
    }
    // The allowance first (an approve of the engine's own), then the batch of all 100.
    await mineUntil(
      chain,
      async () => (await kindRows('approve')).some((r) => r.state === 'mined' || r.state === 'confirmed'),
      'the batcher approved',
      150,
    );
    await until(
      async () => (await kindRows('batch')).some((r) => r.state === 'sent'),
      60_000,
      'the batch sent',
    );
    const [batch] = await kindRows('batch');
    expect(batch).toMatchObject({ from_address: collection.address, to_address: batcher });
    const members = await stack.service.db
      .selectFrom('payouts')
      .select(['queue_id', 'state'])
      .where('batch_id', '=', batch!.queue_id)
      .execute();
    expect(members).toHaveLength(100);
    expect(new Set(members.map((m) => m.state))).toEqual(new Set(['batched']));

    // The token now refuses one recipient, in the block that mines the batch (ahead of it).
    const refused = jobs[37]!;
    await ownerCallFirst(
      chain,
      encodeFunctionData({ abi: tokenAdmin, functionName: 'addBlackList', args: [refused.to] }),
    );
    await ownerCallFirst(
      chain,
      encodeFunctionData({ abi: tokenAdmin, functionName: 'setBlacklistRecipients', args: [true] }),
    );
    await mineUntil(
      chain,
      () => jobs.every((j) => answers().some((a) => a.queue_id === j.id)),
      'every answer',
      150,
    );

    const carrier = (await kindRows('batch'))[0]!;
    expect(carrier.state).toBe('confirmed');
    let feeSum = 0n;
    for (const j of jobs) {
      const mine = answers().filter((a) => a.queue_id === j.id);
      expect(mine, j.id).toHaveLength(1);
      const a = mine[0]!;
      expect(a.tx_hash).toBe(carrier.tx_hash);
      expect(a.from_address).toBe(collection.address);
      feeSum += parseAmount(a.fee, 18);
      if (j === refused) {
        expect(a).toMatchObject({ status: 0, error: 'reverted' });
        expect(await chain.balanceOf(j.to)).toBe(0n);
      } else {
        expect(a.status, j.id).toBe(1);
        expect(await chain.balanceOf(j.to)).toBe(j.amount);
      }
    }
    const paid = jobs.filter((j) => j !== refused).reduce((sum, j) => sum + j.amount, 0n);
    expect(await chain.balanceOf(collection.address)).toBe(before - paid);
    // The batch's fee, split over its payouts to the wei.
    expect(feeSum).toBe(BigInt(carrier.fee_wei!));
    // One approval and one batch: the collection wallet sent nothing else (its deployment was nonce 0).
    expect(await chain.publicClient.getTransactionCount({ address: collection.address })).toBe(3);
  });

  it('gathers only payouts whose own simulation passed: a recipient refused beforehand is answered at once', async () => {
    const jobs = Array.from({ length: 5 }, (_, i) => ({
      id: `b5-${kind}-${i}`,
      to: randomAddress(),
      amount: 7n * E6,
    }));
    const refused = jobs[2]!;
    await ownerCallFirst(
      stack.chain,
      encodeFunctionData({ abi: tokenAdmin, functionName: 'addBlackList', args: [refused.to] }),
    );
    await stack.chain.mine(1);
    for (const j of jobs) {
      await stack.withdraw({ queue_id: j.id, from_address: randomAddress(), to_address: j.to, amount: '7' });
    }
    await mineUntil(
      stack.chain,
      () => jobs.every((j) => answers().some((a) => a.queue_id === j.id)),
      'every answer',
      150,
    );
    const byId = new Map(answers().map((a) => [a.queue_id, a]));
    expect(byId.get(refused.id)).toMatchObject({ status: 0, error: 'would_revert' });
    const paid = jobs.filter((j) => j !== refused).map((j) => byId.get(j.id)!);
    expect(paid.map((a) => a.status)).toEqual([1, 1, 1, 1]);
    expect(new Set(paid.map((a) => a.tx_hash)).size).toBe(1);
    const batches = await kindRows('batch');
    expect(batches).toHaveLength(2);
    expect(batches.find((b) => b.tx_hash === paid[0]!.tx_hash)?.amount_raw).toBe((28n * E6).toString());
  });

  it('follows a batch removed by a reorganisation and settles its payouts once, when it is final in its new block', async () => {
    const { chain } = stack;
    const jobs = Array.from({ length: 4 }, (_, i) => ({ id: `breorg-${kind}-${i}`, to: randomAddress() }));
    const known = new Set((await kindRows('batch')).map((b) => b.queue_id));
    for (const j of jobs) {
      await stack.withdraw({ queue_id: j.id, from_address: randomAddress(), to_address: j.to, amount: '3' });
    }
    const fresh = async () => (await kindRows('batch')).find((b) => !known.has(b.queue_id));
    // (The allowance first when this test runs alone.)
    await mineUntil(chain, async () => (await fresh())?.state === 'mined', 'the batch mined', 150);
    const mined = (await fresh())!;
    // Its block (and any after it) replaced by empty ones.
    await chain.reorg(Number((await chain.blockNumber()) - BigInt(mined.mined_block!)) + 1);
    await mineUntil(
      chain,
      () => jobs.every((j) => answers().some((a) => a.queue_id === j.id)),
      'every answer after the reorganisation',
      150,
    );
    const settled = (await fresh())!;
    expect(settled.state).toBe('confirmed');
    expect(settled.tx_hash).toBe(mined.tx_hash);
    expect(settled.mined_block_hash).not.toBe(mined.mined_block_hash);
    await chain.mine(3);
    await new Promise((r) => setTimeout(r, 500));
    for (const j of jobs) {
      const mine = answers().filter((a) => a.queue_id === j.id);
      expect(mine, j.id).toHaveLength(1);
      expect(mine[0]).toMatchObject({ status: 1, tx_hash: mined.tx_hash });
      expect(await chain.balanceOf(j.to)).toBe(3n * E6);
    }
  });
});
