import type { Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NATIVE_ADDRESS_LC } from '../src/config/chains.js';
import { formatAmount } from '../src/money/amount.js';
import { ResolveError, resolvePayout } from '../src/payouts/resolve.js';
import { jsonNumber, parseJsonLossless } from '../src/protocol/json.js';
import { verifySignature } from '../src/protocol/sign.js';
import { readHistory } from '../src/store/repos/audit.js';
import { createTestChain, mineUntil, type TestChain } from './helpers/chain.js';
import { dbKinds } from './helpers/db.js';
import { newWallet, payoutRow, queueId } from './helpers/payouts.js';
import type { Collector } from './helpers/rabbit.js';
import { randomAddress, TEST_SIGN_KEY } from './helpers/service.js';
import { type StartStackOptions, startStack } from './helpers/stack.js';

const CONFIRM = 3;
const ETH = 10n ** 18n;
const TOKEN18 = 10n ** 18n;

interface PayoutMsg {
  queue_id: string;
  status: number;
  tx_hash: string;
  from_address: string;
  to_address: string;
  error?: string;
  order_id?: string;
}

/** A stack collecting withdraw and pay responses, and a wait for the one answer of a payout. */
async function startPayoutStack(options: StartStackOptions) {
  const stack = await startStack({
    ...options,
    confirmHeight: CONFIRM,
    replaceAfterBlocks: 2,
    collect: ['withdrawResp', 'payResp'],
  });
  const answers = (id: string, collector: Collector) =>
    collector.messages.filter((m) => (m.json as PayoutMsg).queue_id === id);
  return Object.assign(stack, {
    answers,
    /** Mines until the payout is answered; its message as JSON and as sent. */
    async answer(id: string, role: 'withdrawResp' | 'payResp' = 'withdrawResp') {
      const collector = stack.collector(role);
      await mineUntil(stack.chain, () => answers(id, collector).length > 0, `answer to ${id}`);
      const raw = answers(id, collector)[0]!;
      return { msg: raw.json as PayoutMsg, text: raw.text };
    },
  });
}

describe.each(dbKinds)('native-coin withdrawals and payments on %s', (kind) => {
  let chain: TestChain;
  let stack: Awaited<ReturnType<typeof startPayoutStack>>;
  const collection = newWallet();
  const user = newWallet(); // 10 ETH
  const poor = newWallet(); // exactly the amount it is asked to pay: nothing left for the fee
  const payer = newWallet(); // 10 ETH, asked for four payouts of 3

  beforeAll(async () => {
    stack = await startPayoutStack({
      db: kind,
      wallets: [user, poor, payer],
      collection,
      async prepareChain(c) {
        await c.setEthBalance(collection.address, 10n * ETH);
        await c.setEthBalance(user.address, 10n * ETH);
        await c.setEthBalance(poor.address, 2n * ETH);
        await c.setEthBalance(payer.address, 10n * ETH);
      },
    });
    chain = stack.chain;
  });

  afterAll(async () => {
    await stack?.teardown();
  });

  it('pays a withdrawal of the native coin once, as a plain value transfer, exact to the wei, with its fee', async () => {
    const id = queueId('native');
    const to = randomAddress();
    const amount = 1_234_567_890_123_456_789n;
    const before = await chain.publicClient.getBalance({ address: user.address });
    const nonceBefore = await chain.publicClient.getTransactionCount({ address: user.address });
    await stack.withdraw({
      queue_id: id,
      from_address: user.address,
      to_address: to,
      amount: jsonNumber('1.234567890123456789') as never,
      symbol: 'ETH',
    });
    const { msg, text } = await stack.answer(id);
    expect(msg).toMatchObject({ status: 1, from_address: user.address, to_address: to });
    expect(verifySignature(parseJsonLossless(text) as Record<string, unknown>, TEST_SIGN_KEY)).toBe(true);
    expect(text).toContain('"amount":1.234567890123456789');
    expect(text).toContain('"symbol":"ETH"');

    // A plain value transfer: to the recipient, the amount as value, no calldata, no log.
    const tx = await chain.publicClient.getTransaction({ hash: msg.tx_hash as Hex });
    expect(tx).toMatchObject({ to, value: amount, input: '0x' });
    const receipt = await chain.publicClient.getTransactionReceipt({ hash: msg.tx_hash as Hex });
    expect(receipt.status).toBe('success');
    expect(receipt.logs).toEqual([]);
    expect(receipt.gasUsed).toBe(21_000n);

    // The recipient got the amount, once; the sender paid the amount and the fee of one transaction.
    const fee = receipt.gasUsed * receipt.effectiveGasPrice;
    expect(await chain.publicClient.getBalance({ address: to })).toBe(amount);
    expect(await chain.publicClient.getBalance({ address: user.address })).toBe(before - amount - fee);
    expect(await chain.publicClient.getTransactionCount({ address: user.address })).toBe(nonceBefore + 1);
    // The fee answered in the native coin's 18 decimals, exact.
    expect(text).toContain(`"fee":${formatAmount(fee, 18)}`);
    const row = (await stack.payout(id))!;
    expect(row).toMatchObject({ state: 'confirmed', fee_wei: fee.toString(), amount_raw: amount.toString() });
    expect(row.gas_limit).toBe('21000');

    // Answered once, even after more blocks.
    await chain.mine(CONFIRM + 2);
    await stack.settled();
    expect(stack.answers(id, stack.collector('withdrawResp'))).toHaveLength(1);
    expect(
      await stack.service.db.selectFrom('payout_txs').select('tx_hash').where('queue_id', '=', id).execute(),
    ).toHaveLength(1);
  });

  it('pays from the collection wallet when the wallet holds the amount but not the fee, and refuses when none can', async () => {
    const fallback = queueId('native-pay');
    const refused = queueId('native-pay');
    const to = randomAddress();
    const poorBefore = await chain.publicClient.getBalance({ address: poor.address });
    // The whole balance: the value is there, the fee is not.
    await stack.withdraw(
      {
        queue_id: fallback,
        from_address: poor.address,
        to_address: to,
        amount: '2',
        symbol: 'ETH',
        order_id: 'order-native-1',
      },
      stack.queues.pay,
    );
    // More than any wallet holds.
    await stack.withdraw(
      {
        queue_id: refused,
        from_address: poor.address,
        to_address: to,
        amount: '50',
        symbol: 'ETH',
        order_id: 'order-native-2',
      },
      stack.queues.pay,
    );
    const paid = await stack.answer(fallback, 'payResp');
    expect(paid.msg).toMatchObject({
      status: 1,
      order_id: 'order-native-1',
      from_address: collection.address,
    });
    const no = await stack.answer(refused, 'payResp');
    expect(no.msg).toMatchObject({ status: 0, error: 'insufficient_funds', tx_hash: '' });
    expect(no.text).toContain('"fee":0');

    expect(await chain.publicClient.getBalance({ address: to })).toBe(2n * ETH);
    expect(await chain.publicClient.getBalance({ address: poor.address })).toBe(poorBefore);
    expect(await chain.publicClient.getTransactionCount({ address: poor.address })).toBe(0);
    expect(
      await stack.service.db
        .selectFrom('payout_txs')
        .select('tx_hash')
        .where('queue_id', '=', refused)
        .execute(),
    ).toHaveLength(0);
  });

  it('counts native payouts in flight with their value and fee: a wallet pays what it can, the rest waits or falls back', async () => {
    // Four of 3 ETH from a wallet of 10 ETH: three fit with their fees, whether they are signed in one
    // pass or while the others are in flight; the fourth goes to the collection wallet.
    const ids = [0, 1, 2, 3].map(() => queueId('native-many'));
    const to = randomAddress();
    for (const id of ids) {
      await stack.withdraw({
        queue_id: id,
        from_address: payer.address,
        to_address: to,
        amount: '3',
        symbol: 'ETH',
      });
    }
    for (const id of ids) await stack.answer(id);
    const senders = await Promise.all(ids.map(async (id) => (await stack.payout(id))!.sender));
    expect(senders.filter((s) => s === payer.address)).toHaveLength(3);
    expect(senders.filter((s) => s === collection.address)).toHaveLength(1);
    expect(await chain.publicClient.getBalance({ address: to })).toBe(12n * ETH);
    const left = await chain.publicClient.getBalance({ address: payer.address });
    expect(left).toBeGreaterThan(0n);
    expect(left).toBeLessThan(1n * ETH);
  });

  it("settles an unresolved native payout on the operator's word, on the payout's own chain", async () => {
    // Held unresolved as a lagging node would leave it: its nonce used, the node not showing by what.
    const dev = chain.accounts[1]!;
    const to = randomAddress();
    const amount = 700_000_000_000_000_001n;
    const held = (id: string, chainName: string) =>
      payoutRow(id, {
        chain: chainName.toLowerCase(),
        chain_name: chainName,
        symbol: 'ETH',
        token_address: NATIVE_ADDRESS_LC,
        from_address: dev.address.toLowerCase(),
        to_address: to,
        amount_raw: amount.toString(),
        amount_text: '0.700000000000000001',
        state: 'unresolved',
        sender: dev.address.toLowerCase(),
        nonce: 0,
        gas_limit: '21000',
      });
    const id = queueId('resolve');
    const elsewhere = queueId('resolve');
    await stack.service.db
      .insertInto('payouts')
      .values([held(id, 'ETH'), held(elsewhere, 'BSC')])
      .execute();
    const send = (value: bigint) => chain.walletClients[1]!.sendTransaction({ to, value });
    const wrongValue = await send(amount - 1n);
    const right = await send(amount);
    await chain.mine(1);

    const deps = {
      db: stack.service.db,
      chains: stack.config.chains,
      rmq: stack.config.rmq,
      signKey: TEST_SIGN_KEY,
    };
    await expect(resolvePayout(deps, id, { paid: wrongValue })).rejects.toBeInstanceOf(ResolveError);
    // A payout of a chain the config does not have is not checked against another chain's node.
    await expect(resolvePayout(deps, elsewhere, { paid: right })).rejects.toThrow(/chain BSC/);
    expect(await resolvePayout(deps, id, { paid: right })).toMatch(/confirmed/);

    const { msg, text } = await stack.answer(id);
    expect(msg).toMatchObject({ status: 1, tx_hash: right, from_address: dev.address.toLowerCase() });
    const receipt = await chain.publicClient.getTransactionReceipt({ hash: right });
    expect(text).toContain(`"fee":${formatAmount(receipt.gasUsed * receipt.effectiveGasPrice, 18)}`);
    expect(text).toContain('"amount":0.700000000000000001');

    // ETH's engine never follows the BSC payout: its nonce 0 on ETH went to a transaction that is not
    // its own, which on its own chain would send it to be paid anew.
    for (let i = 0; i < CONFIRM + 2; i++) {
      await chain.mine(1);
      await new Promise((r) => setTimeout(r, 150));
    }
    await stack.settled();
    expect((await stack.payout(elsewhere))?.state).toBe('unresolved');
  });
});

describe.each(dbKinds)('an 18-decimal token on %s', (kind) => {
  let chain: TestChain;
  let stack: Awaited<ReturnType<typeof startPayoutStack>>;
  const user = newWallet();

  beforeAll(async () => {
    chain = await createTestChain({ noMining: true });
    await chain.deployToken(18);
    stack = await startPayoutStack({
      db: kind,
      chain,
      wallets: [user],
      async prepareChain(c) {
        await c.setEthBalance(user.address, 10n * ETH);
        await c.mint(user.address, 1_000n * TOKEN18);
      },
      configure(config) {
        // config.chain is config.chains[0]: the one chain, with its token at 18 decimals (like BSC-USD).
        config.chain.tokens = config.chain.tokens.map((t) => ({ ...t, decimals: 18 }));
      },
    });
  });

  afterAll(async () => {
    await stack?.teardown();
    await chain?.stop();
  });

  it('pays a withdrawal exact to the last of its 18 decimals, in the request, the answer and the audit', async () => {
    const big = queueId('t18');
    const tiny = queueId('t18');
    const to = randomAddress();
    const dust = randomAddress();
    await stack.withdraw({
      queue_id: big,
      from_address: user.address,
      to_address: to,
      amount: jsonNumber('123.456789012345678901') as never,
    });
    await stack.withdraw({
      queue_id: tiny,
      from_address: user.address,
      to_address: dust,
      amount: jsonNumber('0.000000000000000001') as never,
    });
    const a = await stack.answer(big);
    const b = await stack.answer(tiny);
    expect(a.msg).toMatchObject({ status: 1, from_address: user.address });
    expect(b.msg).toMatchObject({ status: 1, from_address: user.address });
    expect(a.text).toContain('"amount":123.456789012345678901');
    expect(b.text).toContain('"amount":0.000000000000000001');

    expect(await chain.balanceOf(to)).toBe(123_456_789_012_345_678_901n);
    expect(await chain.balanceOf(dust)).toBe(1n);
    expect(await chain.balanceOf(user.address)).toBe(1_000n * TOKEN18 - 123_456_789_012_345_678_902n);
    expect((await stack.payout(big))?.amount_raw).toBe('123456789012345678901');

    const history = await readHistory(stack.service.db, { queueId: big });
    expect(JSON.parse(history[0]!.detail!)).toMatchObject({ amount: '123.456789012345678901' });
    expect(history.at(-1)?.to_state).toBe('confirmed');
  });

  it('refuses an amount finer than 18 decimals', async () => {
    const id = queueId('t18');
    await stack.withdraw({
      queue_id: id,
      from_address: user.address,
      to_address: randomAddress(),
      amount: jsonNumber('1.0000000000000000001') as never,
    });
    const { msg } = await stack.answer(id);
    expect(msg).toMatchObject({ status: 0, error: 'invalid_amount' });
  });
});

describe.each(dbKinds)('a chain without EIP-1559 (legacy gas price) on %s', (kind) => {
  let chain: TestChain;
  let stack: Awaited<ReturnType<typeof startPayoutStack>>;
  const user = newWallet();

  beforeAll(async () => {
    // Berlin: blocks without a base fee, as on chains that never took EIP-1559. The chain helper deploys
    // its token with an EIP-1559 transaction, which berlin refuses: the config names a token address that
    // holds no contract, never used here.
    chain = await createTestChain({ noMining: true, args: ['--hardfork', 'berlin'] });
    const noToken = Object.create(chain, { token: { value: randomAddress() } }) as TestChain;
    stack = await startPayoutStack({
      db: kind,
      chain: noToken,
      wallets: [user],
      async prepareChain(c) {
        await c.setEthBalance(user.address, 10n * ETH);
      },
    });
  });

  afterAll(async () => {
    await stack?.teardown();
    await chain?.stop();
  });

  it('pays the native coin with a legacy transaction, the fee at its gas price', async () => {
    const id = queueId('legacy');
    const to = randomAddress();
    const before = await chain.publicClient.getBalance({ address: user.address });
    await stack.withdraw({
      queue_id: id,
      from_address: user.address,
      to_address: to,
      amount: '0.5',
      symbol: 'ETH',
    });
    const { msg, text } = await stack.answer(id);
    expect(msg).toMatchObject({ status: 1, from_address: user.address });
    const tx = await chain.publicClient.getTransaction({ hash: msg.tx_hash as Hex });
    expect(tx.type).toBe('legacy');
    const receipt = await chain.publicClient.getTransactionReceipt({ hash: msg.tx_hash as Hex });
    expect(receipt.effectiveGasPrice).toBe(tx.gasPrice);
    const fee = receipt.gasUsed * receipt.effectiveGasPrice;
    expect(fee).toBeGreaterThan(0n);
    expect(text).toContain(`"fee":${formatAmount(fee, 18)}`);
    expect(await chain.publicClient.getBalance({ address: to })).toBe(ETH / 2n);
    expect(await chain.publicClient.getBalance({ address: user.address })).toBe(before - ETH / 2n - fee);
  });
});
