import type { Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonNumber, parseJsonLossless } from '../src/protocol/json.js';
import { verifySignature } from '../src/protocol/sign.js';
import { mineUntil, type TestChain } from './helpers/chain.js';
import { dbKinds } from './helpers/db.js';
import { newWallet, queueId, signedWithdraw } from './helpers/payouts.js';
import type { Collector } from './helpers/rabbit.js';
import { randomAddress, TEST_MASTER_KEY, TEST_SIGN_KEY, until } from './helpers/service.js';
import { type StartStackOptions, startStack } from './helpers/stack.js';

const CONFIRM = 3;
const USDT = 1_000_000n;
const ETH = 10n ** 18n;

interface PayoutMsg {
  queue_id: string;
  status: number;
  tx_hash: string;
  from_address: string;
  to_address: string;
  error?: string;
  order_id?: string;
  fee: unknown;
}

/** A stack collecting withdraw and pay responses, with what the payout tests ask of it. */
async function startPayoutStack(options: StartStackOptions) {
  const stack = await startStack({
    ...options,
    confirmHeight: CONFIRM,
    replaceAfterBlocks: 2,
    collect: ['withdrawResp', 'payResp'],
  });
  const withdrawResp = stack.collector('withdrawResp');
  const responses = (id: string, collector: Collector = withdrawResp): PayoutMsg[] =>
    collector.messages.map((m) => m.json as PayoutMsg).filter((m) => m.queue_id === id);
  return Object.assign(stack, {
    withdrawResp,
    payResp: stack.collector('payResp'),
    responses,
    async response(id: string, collector: Collector = withdrawResp) {
      await mineUntil(stack.chain, () => responses(id, collector).length > 0, `response to ${id}`);
      return responses(id, collector)[0]!;
    },
  });
}

describe.each(dbKinds)('withdrawals and payments on %s', (kind) => {
  let chain: TestChain;
  let stack: Awaited<ReturnType<typeof startPayoutStack>>;
  const collection = newWallet();
  const user = newWallet(); // tokens and gas
  const noGas = newWallet(); // tokens, no gas
  const blacklisted = newWallet();
  const busy = newWallet(); // 40 payouts at once
  const shared = newWallet(); // also used from outside the service
  const wallets = [user, noGas, blacklisted, busy, shared];

  beforeAll(async () => {
    stack = await startPayoutStack({
      db: kind,
      wallets,
      collection,
      async prepareChain(c) {
        for (const w of [collection, user, blacklisted, busy, shared])
          await c.setEthBalance(w.address, 10n * ETH);
        await c.mint(shared.address, 100n * USDT);
        await c.mint(collection.address, 1_000n * USDT);
        await c.mint(user.address, 100n * USDT);
        await c.mint(noGas.address, 100n * USDT);
        await c.mint(blacklisted.address, 100n * USDT);
        await c.mint(busy.address, 1_000n * USDT);
        await c.addBlackList(blacklisted.address);
      },
    });
    chain = stack.chain;
  });

  afterAll(async () => {
    await stack?.teardown();
  });

  it('pays from the user wallet when it holds the token and the gas, and answers once when final', async () => {
    const id = queueId('w');
    const to = randomAddress();
    await stack.withdraw({
      queue_id: id,
      from_address: user.address,
      to_address: to,
      amount: jsonNumber('12.345678') as never,
    });
    const msg = await stack.response(id);
    expect(msg).toMatchObject({ status: 1, from_address: user.address, to_address: to });
    expect(msg.tx_hash).toMatch(/^0x[0-9a-f]{64}$/);
    const raw = stack.withdrawResp.messages.find((m) => (m.json as PayoutMsg).queue_id === id)!;
    expect(raw.text).toContain('"amount":12.345678');
    expect(raw.text).toMatch(/"fee":0\.\d+/);
    expect(verifySignature(parseJsonLossless(raw.text) as Record<string, unknown>, TEST_SIGN_KEY)).toBe(true);
    expect(await chain.balanceOf(to)).toBe(12_345_678n);
    expect(await chain.balanceOf(user.address)).toBe(100n * USDT - 12_345_678n);
    const receipt = await chain.publicClient.getTransactionReceipt({ hash: msg.tx_hash as Hex });
    const head = await chain.blockNumber();
    expect(head - receipt.blockNumber + 1n).toBeGreaterThanOrEqual(BigInt(CONFIRM));
    expect((await stack.payout(id))?.state).toBe('confirmed');
  });

  it('falls back to the collection wallet when the user wallet has no gas', async () => {
    const id = queueId('w');
    const to = randomAddress();
    await stack.withdraw({ queue_id: id, from_address: noGas.address, to_address: to, amount: '5' });
    const msg = await stack.response(id);
    expect(msg).toMatchObject({ status: 1, from_address: collection.address });
    expect(await chain.balanceOf(to)).toBe(5n * USDT);
    expect(await chain.balanceOf(noGas.address)).toBe(100n * USDT);
  });

  it('answers a payment with its order_id', async () => {
    const id = queueId('p');
    const to = randomAddress();
    await stack.withdraw(
      { queue_id: id, from_address: user.address, to_address: to, amount: '1.5', order_id: 'order-42' },
      stack.queues.pay,
    );
    const msg = await stack.response(id, stack.payResp);
    expect(msg).toMatchObject({ status: 1, order_id: 'order-42', from_address: user.address });
    expect(await chain.balanceOf(to)).toBe(1_500_000n);
  });

  it('refuses when no wallet can pay, and sends nothing', async () => {
    const id = queueId('w');
    const to = randomAddress();
    await stack.withdraw({ queue_id: id, from_address: user.address, to_address: to, amount: '1000000' });
    const msg = await stack.response(id);
    expect(msg).toMatchObject({ status: 0, error: 'insufficient_funds', tx_hash: '' });
    expect(await chain.balanceOf(to)).toBe(0n);
    expect(
      await stack.service.db.selectFrom('payout_txs').select('tx_hash').where('queue_id', '=', id).execute(),
    ).toHaveLength(0);
  });

  it('refuses over-precise amounts and bad addresses with their codes', async () => {
    const a = queueId('w');
    const b = queueId('w');
    await stack.withdraw({
      queue_id: a,
      from_address: user.address,
      to_address: randomAddress(),
      amount: jsonNumber('1.1234567') as never,
    });
    await stack.withdraw({ queue_id: b, from_address: user.address, to_address: '0x1234', amount: '1' });
    const [ma, mb] = [await stack.response(a), await stack.response(b)];
    expect(ma).toMatchObject({ status: 0, error: 'invalid_amount', tx_hash: '' });
    expect(mb).toMatchObject({ status: 0, error: 'invalid_address', tx_hash: '' });
  });

  it('answers a long unknown symbol as sent, and dead-letters a queue_id too long to store', async () => {
    const id = queueId('long');
    await stack.withdraw({
      queue_id: id,
      from_address: user.address,
      to_address: randomAddress(),
      amount: '1',
      symbol: 'USDT-ERC20-TOKEN-WITH-A-LONG-NAME',
    });
    expect(await stack.response(id)).toMatchObject({
      status: 0,
      error: 'unknown_token',
      symbol: 'USDT-ERC20-TOKEN-WITH-A-LONG-NAME',
    });
    const longId = `x${'y'.repeat(300)}`;
    await stack.withdraw({
      queue_id: longId,
      from_address: user.address,
      to_address: randomAddress(),
      amount: '1',
    });
    const dlq = await until(
      async () => {
        const msgs = await stack.business.readDlq(stack.queues.withdraw.queue);
        return msgs.find((m) => m.text.includes(longId));
      },
      20_000,
      'the long queue_id dead-lettered',
    );
    expect(String(dlq.headers['x-reject-reason'])).toMatch(/queue_id is longer than 191/);
  });

  it('answers chain and symbol as sent and the amount as its exact plain decimal, accepted or refused', async () => {
    const accepted = queueId('w');
    const refused = queueId('w');
    const to = randomAddress();
    // `chain` is not among the helper's fields but is laid over its defaults all the same.
    await stack.withdraw({
      queue_id: accepted,
      from_address: user.address,
      to_address: to,
      amount: jsonNumber('100.50') as never,
      chain: 'eth',
      symbol: 'usdt',
    } as Parameters<typeof stack.withdraw>[0]);
    // Too many decimals for USDT's 6.
    await stack.withdraw({
      queue_id: refused,
      from_address: user.address,
      to_address: to,
      amount: jsonNumber('1e-7') as never,
      chain: 'eth',
      symbol: 'usdt',
    } as Parameters<typeof stack.withdraw>[0]);
    const text = async (id: string) => {
      await stack.response(id);
      return stack.withdrawResp.messages.find((m) => (m.json as PayoutMsg).queue_id === id)!.text;
    };
    const refusedText = await text(refused);
    expect(refusedText).toContain('"status":0,"amount":0.0000001,"chain":"eth","symbol":"usdt"');
    const acceptedText = await text(accepted);
    expect(acceptedText).toContain('"status":1,"amount":100.5,"chain":"eth","symbol":"usdt"');
    expect(await chain.balanceOf(to)).toBe(100_500_000n);
  });

  it('keeps queue_ids that differ only by a trailing space apart: two payouts, two answers', async () => {
    const id = queueId('w');
    const spaced = `${id} `;
    const [to1, to2] = [randomAddress(), randomAddress()];
    await stack.withdraw({ queue_id: id, from_address: user.address, to_address: to1, amount: '1' });
    await stack.withdraw({ queue_id: spaced, from_address: user.address, to_address: to2, amount: '2' });
    expect(await stack.response(id)).toMatchObject({ status: 1, to_address: to1 });
    expect(await stack.response(spaced)).toMatchObject({ status: 1, to_address: to2 });
    expect(await chain.balanceOf(to1)).toBe(1n * USDT);
    expect(await chain.balanceOf(to2)).toBe(2n * USDT);
    expect((await stack.payout(id))?.to_address).toBe(to1);
    expect((await stack.payout(spaced))?.to_address).toBe(to2);
    expect(stack.responses(id)).toHaveLength(1);
    expect(stack.responses(spaced)).toHaveLength(1);
  });

  it('dead-letters a body that is not valid UTF-8, though it verifies once decoded with replacements', async () => {
    const id = `${queueId('utf8')}-\uFFFD`;
    const bytes = Buffer.from(
      signedWithdraw({ queue_id: id, from_address: user.address, to_address: randomAddress(), amount: '1' }),
    );
    // U+FFFD (EF BF BD) is what a lenient decoder makes of the byte FF.
    const at = bytes.indexOf(Buffer.from('\uFFFD'));
    const invalid = Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff]), bytes.subarray(at + 3)]);
    // publishRequest sends Buffer.from(body): a Buffer goes through unchanged.
    await stack.business.publishRequest(stack.queues.withdraw, invalid as unknown as string);
    const dlq = await until(
      async () => {
        const msgs = await stack.business.readDlq(stack.queues.withdraw.queue);
        return msgs.find((m) => m.text.includes(id.slice(0, -1)));
      },
      20_000,
      'the invalid UTF-8 dead-lettered',
    );
    expect(String(dlq.headers['x-reject-reason'])).toBe('message is not valid UTF-8');
    expect(await stack.payout(id)).toBeUndefined();
  });

  it('does nothing for a queue_id seen before: no second transfer, no second response', async () => {
    const id = queueId('w');
    const to = randomAddress();
    await stack.withdraw({ queue_id: id, from_address: user.address, to_address: to, amount: '2' });
    await stack.withdraw({ queue_id: id, from_address: user.address, to_address: to, amount: '2' });
    // Same id, other content: still nothing.
    await stack.withdraw({
      queue_id: id,
      from_address: user.address,
      to_address: randomAddress(),
      amount: '3',
    });
    await stack.response(id);
    await chain.mine(CONFIRM + 2);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(stack.responses(id)).toHaveLength(1);
    expect(await chain.balanceOf(to)).toBe(2n * USDT);
    expect(
      await stack.service.db.selectFrom('payout_txs').select('tx_hash').where('queue_id', '=', id).execute(),
    ).toHaveLength(1);
  });

  it('refuses a transfer that would revert (paused token, blacklisted sender) before sending anything', async () => {
    const nonceBefore = await chain.publicClient.getTransactionCount({ address: blacklisted.address });
    const black = queueId('w');
    await stack.withdraw({
      queue_id: black,
      from_address: blacklisted.address,
      to_address: randomAddress(),
      amount: '1',
    });
    expect(await stack.response(black)).toMatchObject({ status: 0, error: 'would_revert', tx_hash: '' });
    expect(await chain.publicClient.getTransactionCount({ address: blacklisted.address })).toBe(nonceBefore);

    await chain.pause();
    try {
      const paused = queueId('w');
      const to = randomAddress();
      await stack.withdraw({ queue_id: paused, from_address: user.address, to_address: to, amount: '1' });
      expect(await stack.response(paused)).toMatchObject({ status: 0, error: 'would_revert', tx_hash: '' });
      expect(
        await stack.service.db
          .selectFrom('payout_txs')
          .select('tx_hash')
          .where('queue_id', '=', paused)
          .execute(),
      ).toHaveLength(0);
    } finally {
      await chain.unpause();
    }
  });

  it('pipelines 40 payouts from one wallet: 40 transfers, 40 answers, consecutive nonces', async () => {
    const startNonce = await chain.publicClient.getTransactionCount({ address: busy.address });
    const jobs = Array.from({ length: 40 }, (_, i) => ({
      id: queueId('busy'),
      to: randomAddress(),
      amount: `${i + 1}`,
    }));
    await Promise.all(
      jobs.map((j) =>
        stack.withdraw({ queue_id: j.id, from_address: busy.address, to_address: j.to, amount: j.amount }),
      ),
    );
    // All 40 are broadcast before a single block is mined: several nonces in flight at once.
    await until(
      async () => {
        const rows = await stack.service.db
          .selectFrom('payouts')
          .select('state')
          .where(
            'queue_id',
            'in',
            jobs.map((j) => j.id),
          )
          .execute();
        return rows.length === 40 && rows.every((r) => r.state === 'sent');
      },
      30_000,
      '40 payouts sent',
    );
    await mineUntil(chain, () => jobs.every((j) => stack.responses(j.id).length > 0), '40 responses');
    for (const j of jobs) {
      expect(stack.responses(j.id)).toHaveLength(1);
      expect(stack.responses(j.id)[0]).toMatchObject({ status: 1, from_address: busy.address });
      expect(await chain.balanceOf(j.to)).toBe(BigInt(j.amount) * USDT);
    }
    const rows = await stack.service.db
      .selectFrom('payouts')
      .select(['nonce', 'mined_block'])
      .where(
        'queue_id',
        'in',
        jobs.map((j) => j.id),
      )
      .execute();
    const nonces = rows.map((r) => Number(r.nonce)).sort((a, b) => a - b);
    expect(nonces).toEqual(Array.from({ length: 40 }, (_, i) => startNonce + i));
    expect(new Set(rows.map((r) => r.mined_block)).size).toBe(1);
    expect(await chain.publicClient.getTransactionCount({ address: busy.address })).toBe(startNonce + 40);
  });

  it('replaces a transaction stuck below the base fee (same nonce, fees +10%) and confirms it once', async () => {
    const id = queueId('stuck');
    const to = randomAddress();
    await stack.withdraw({ queue_id: id, from_address: user.address, to_address: to, amount: '3' });
    const sent = await stack.waitState(id, ['sent']);
    const first = await stack.service.db
      .selectFrom('payout_txs')
      .selectAll()
      .where('tx_hash', '=', sent.tx_hash!)
      .executeTakeFirstOrThrow();
    const stuckBelow = BigInt(first.max_fee_per_gas!) + 1n;
    // Keep every block's base fee above the first transaction's fee cap: it can never be included.
    await mineUntil(
      chain,
      async () => {
        await chain.testClient.setNextBlockBaseFeePerGas({ baseFeePerGas: stuckBelow });
        return stack.responses(id).length > 0;
      },
      'the replacement confirmed',
    );
    const msg = stack.responses(id)[0]!;
    expect(msg.status).toBe(1);
    const txs = await stack.service.db
      .selectFrom('payout_txs')
      .selectAll()
      .where('queue_id', '=', id)
      .orderBy('created_at')
      .execute();
    expect(txs.length).toBeGreaterThanOrEqual(2);
    expect(new Set(txs.map((t) => Number(t.nonce))).size).toBe(1);
    const second = txs[1]!;
    expect(BigInt(second.max_fee_per_gas!) * 10n).toBeGreaterThanOrEqual(
      BigInt(first.max_fee_per_gas!) * 11n,
    );
    expect(BigInt(second.max_priority_fee_per_gas!) * 10n).toBeGreaterThanOrEqual(
      BigInt(first.max_priority_fee_per_gas!) * 11n,
    );
    expect(msg.tx_hash).not.toBe(first.tx_hash);
    expect(
      await chain.publicClient.getTransactionReceipt({ hash: first.tx_hash as Hex }).catch(() => null),
    ).toBeNull();
    await chain.mine(CONFIRM);
    await new Promise((r) => setTimeout(r, 500));
    expect(stack.responses(id)).toHaveLength(1);
    expect(await chain.balanceOf(to)).toBe(3n * USDT);
  });

  it('follows a mined payout removed by a reorganisation and confirms it once mined again', async () => {
    const id = queueId('reorg');
    const to = randomAddress();
    await stack.withdraw({ queue_id: id, from_address: user.address, to_address: to, amount: '4' });
    await stack.waitState(id, ['sent']);
    await mineUntil(chain, async () => (await stack.payout(id))?.state === 'mined', 'payout mined');
    const mined = (await stack.payout(id))!;
    await chain.reorg(1); // the block with the payout is replaced by an empty one
    // Back to sent, or already past it (mined again in a new block): `sent` can last less than a poll.
    await until(
      async () => {
        const p = await stack.payout(id);
        return p?.state === 'sent' || (p?.mined_block_hash && p.mined_block_hash !== mined.mined_block_hash);
      },
      30_000,
      'payout back to sent',
    );
    const msg = await stack.response(id);
    expect(msg).toMatchObject({ status: 1, tx_hash: mined.tx_hash });
    const after = (await stack.payout(id))!;
    expect(after.mined_block_hash).not.toBe(mined.mined_block_hash);
    await chain.mine(CONFIRM);
    await new Promise((r) => setTimeout(r, 500));
    expect(stack.responses(id)).toHaveLength(1);
    expect(await chain.balanceOf(to)).toBe(4n * USDT);
  });

  it('repairs a nonce counter that ran ahead of the chain (no gap that would stall the wallet)', async () => {
    const first = queueId('gap');
    await stack.withdraw({
      queue_id: first,
      from_address: shared.address,
      to_address: randomAddress(),
      amount: '1',
    });
    expect((await stack.response(first)).status).toBe(1);
    // As after restoring an old backup or a manual edit: the counter claims nonces nobody used.
    await stack.service.db
      .updateTable('sender_nonces')
      .set({ next_nonce: 1_000 })
      .where('address', '=', shared.address)
      .execute();
    const second = queueId('gap');
    const to = randomAddress();
    await stack.withdraw({ queue_id: second, from_address: shared.address, to_address: to, amount: '2' });
    expect((await stack.response(second)).status).toBe(1);
    const row = (await stack.payout(second))!;
    expect(Number(row.nonce)).toBe(Number((await stack.payout(first))!.nonce) + 1);
    expect(await chain.balanceOf(to)).toBe(2n * USDT);
  });

  it('pays again with a new nonce when a transaction that is not ours took the nonce', async () => {
    const id = queueId('foreign');
    const to = randomAddress();
    await stack.withdraw({ queue_id: id, from_address: shared.address, to_address: to, amount: '3' });
    const sent = await stack.waitState(id, ['sent']);
    const first = await stack.service.db
      .selectFrom('payout_txs')
      .selectAll()
      .where('tx_hash', '=', sent.tx_hash!)
      .executeTakeFirstOrThrow();
    // Someone else uses the wallet's key: a self-transfer with the same nonce and a fee ours cannot beat.
    const { privateKeyToAccount } = await import('viem/accounts');
    const outsider = privateKeyToAccount(shared.privateKey);
    const block = await chain.publicClient.getBlock();
    const foreignRaw = await outsider.signTransaction({
      chainId: chain.anvil.chainId,
      type: 'eip1559',
      to: shared.address,
      value: 0n,
      gas: 21_000n,
      nonce: Number(sent.nonce),
      maxFeePerGas: BigInt(first.max_fee_per_gas!) * 10n + block.baseFeePerGas! * 4n,
      maxPriorityFeePerGas: BigInt(first.max_fee_per_gas!) * 5n,
    });
    await chain.testClient.dropTransaction({ hash: first.tx_hash as Hex });
    await chain.sendRawTransaction(foreignRaw);
    const msg = await stack.response(id);
    expect(msg.status).toBe(1);
    const row = (await stack.payout(id))!;
    expect(Number(row.nonce)).toBe(Number(sent.nonce) + 1);
    expect(await chain.balanceOf(to)).toBe(3n * USDT);
    await chain.mine(CONFIRM);
    await new Promise((r) => setTimeout(r, 500));
    expect(stack.responses(id)).toHaveLength(1);
    expect(await chain.balanceOf(to)).toBe(3n * USDT);
  });

  it('logs structured JSON with the queue_id on every line about a payout', async () => {
    const lines = stack.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const aboutPayouts = lines.filter((l) => l.component === 'payouts' && typeof l.txHash === 'string');
    expect(aboutPayouts.length).toBeGreaterThan(10);
    for (const l of aboutPayouts) expect(typeof l.queueId, JSON.stringify(l)).toBe('string');
    const requests = lines.filter(
      (l) => (l.component === 'withdraw' || l.component === 'pay') && l.level === 30,
    );
    expect(requests.length).toBeGreaterThan(5);
    for (const l of requests) expect(typeof l.queueId, JSON.stringify(l)).toBe('string');
  });

  it('never writes a private key to the logs or in clear to the database', async () => {
    const keys = [...wallets, collection].flatMap((w) => [
      w.privateKey.slice(2),
      w.privateKey.slice(2).toUpperCase(),
    ]);
    keys.push(TEST_MASTER_KEY);
    const logs = stack.logs.join('');
    expect(logs.length).toBeGreaterThan(1000);
    for (const k of keys) expect(logs.includes(k)).toBe(false);
    const tables = ['wallets', 'payouts', 'payout_txs', 'outbox', 'deposits', 'sender_nonces'] as const;
    for (const table of tables) {
      const rows = await stack.service.db.selectFrom(table).selectAll().execute();
      const dump = JSON.stringify(rows).toLowerCase();
      for (const k of keys) expect(dump.includes(k.toLowerCase())).toBe(false);
    }
  });
});
