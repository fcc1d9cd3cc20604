import { mnemonicToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AddressAnswer,
  createPaymentClient,
  type Delivery,
  type DepositAnswer,
  isDepositAnswer,
  type PayAnswer,
  type PaymentClient,
  type TopupAnswer,
  type WithdrawAnswer,
} from '../src/client/index.js';
import type { QueueConfig } from '../src/config/types.js';
import { withdrawResponse } from '../src/protocol/responses.js';
import { newMnemonic } from '../src/vault/hd.js';
import { createTestChain, mineUntil, type TestChain } from './helpers/chain.js';
import { BSC_CHAIN_ID, bscChainConfig } from './helpers/chains.js';
import { rmqJson } from './helpers/client.js';
import { newWallet, queueId } from './helpers/payouts.js';
import { TEST_AMQP_URL } from './helpers/rabbit.js';
import { captureLogger, randomAddress, TEST_SIGN_KEY, until } from './helpers/service.js';
import { startStack, type TestStack } from './helpers/stack.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

/**
 * The client SDK (src/client, exported as `m2pool-payment/client`) as a business system uses it: every
 * message kind through a real service on two chains (6- and 18-decimal USDT), answers verified and typed
 * with exact amounts; a forged answer never reaches a handler. Failing handlers: client-handlers.test.ts;
 * the package export: client-package.test.ts.
 */

const E6 = 10n ** 6n;
const E18 = 10n ** 18n;
const CONFIRM = 3;

interface Handled<A> {
  answer: A;
  delivery: Delivery;
}

describe('the client SDK against the service, on two chains', () => {
  let stack: TestStack;
  let eth: TestChain;
  let bsc: TestChain;
  let bscProxy: TcpProxy;
  let client: PaymentClient;
  const user = newWallet();
  const sender = 1;
  const topups: Handled<TopupAnswer>[] = [];
  const withdrawals: Handled<WithdrawAnswer>[] = [];
  const payments: Handled<PayAnswer>[] = [];
  const addresses: Handled<AddressAnswer>[] = [];
  const deadLetters: { queue: string; reason: string }[] = [];
  const both = {
    async mine(blocks = 1) {
      await bsc.mine(blocks);
      return eth.mine(blocks);
    },
  };
  const depositsTo = (address: string) =>
    topups
      .map((h) => h.answer)
      .filter((a): a is DepositAnswer => isDepositAnswer(a) && a.address === address.toLowerCase());
  const withdrawal = (id: string) => withdrawals.find((h) => h.answer.queue_id === id);
  const payment = (id: string) => payments.find((h) => h.answer.queue_id === id);
  const addressAnswer = (id: string) => addresses.find((h) => h.answer.request_id === id)?.answer;
  const watched = (address: string, chain: string, symbol: string) =>
    until(
      () =>
        stack.service.db
          .selectFrom('watched_addresses')
          .select('address')
          .where('address', '=', address.toLowerCase())
          .where('chain', '=', chain)
          .where('symbol', '=', symbol)
          .executeTakeFirst(),
      20_000,
      `${address} watched for ${symbol} on ${chain}`,
    );

  beforeAll(async () => {
    bsc = await createTestChain({ noMining: true, chainId: BSC_CHAIN_ID });
    await bsc.deployToken(18);
    const node = new URL(bsc.anvil.rpcUrl);
    bscProxy = await startTcpProxy(node.hostname, Number(node.port));
    await bsc.mint(bsc.accounts[sender]!.address, 1_000n * E18);
    await bsc.mint(user.address, 100n * E18);
    await bsc.setEthBalance(user.address, 10n * E18);
    stack = await startStack({
      db: 'sqlite',
      confirmHeight: CONFIRM,
      wallets: [user],
      async prepareChain(c) {
        await c.mint(c.accounts[sender]!.address, 1_000n * E6);
        await c.mint(user.address, 100n * E6);
        await c.setEthBalance(user.address, 10n * E18);
      },
      configure(config) {
        config.chains.push(bscChainConfig(bsc, bscProxy, { confirmHeight: CONFIRM }));
        // The optional address queues (PROTOCOL §7.4), named after the topup queue.
        const q = (name: string): QueueConfig => ({
          queue: `${config.rmq.topup.queue}.${name}`,
          exchange: config.rmq.topup.exchange,
          routing: [`${config.rmq.topup.routing[0]}.${name}`],
        });
        config.rmq.address = q('address');
        config.rmq.addressResp = q('address_resp');
      },
    });
    eth = stack.chain;
    await until(() => stack.service.lanes.every((lane) => lane.state() === 'running'), 20_000, 'both chains');

    client = createPaymentClient({
      url: TEST_AMQP_URL,
      secret: TEST_SIGN_KEY,
      rmq: rmqJson(stack.config.rmq),
      logger: captureLogger().logger,
      onDeadLetter: (queue, reason) => deadLetters.push({ queue, reason }),
    });
    client.onTopup((answer, delivery) => {
      topups.push({ answer, delivery });
    });
    client.onWithdraw(async (answer, delivery) => {
      withdrawals.push({ answer, delivery });
    });
    client.onPay((answer, delivery) => {
      payments.push({ answer, delivery });
    });
    client.onAddress((answer, delivery) => {
      addresses.push({ answer, delivery });
    });
    expect(await client.ready(20_000)).toBe(true);
  });

  afterAll(async () => {
    await client?.close();
    // The teardown removes the six queues of the stack; the address ones are this test's.
    const { address, addressResp } = stack?.config.rmq ?? {};
    for (const q of [address, addressResp]) {
      if (!q) continue;
      await stack.business.deleteQueue(q.queue).catch(() => {});
      await stack.business.deleteQueue(`${q.queue}.dlq`).catch(() => {});
    }
    await stack?.teardown();
    await bscProxy?.close();
    await bsc?.stop();
  });

  it('topup: deposits reach onTopup verified and typed, 6 and 18 decimals exact, status 2 before 1', async () => {
    const onEth = randomAddress();
    const onBsc = randomAddress();
    const sent = await client.topup({ chain: 'ETH', symbol: 'USDT', address: onEth });
    expect(sent.queue).toBe(stack.queues.topup.queue);
    expect(sent.body).toMatch(
      /^\{"chain":"ETH","symbol":"USDT","address":"0x[0-9a-f]{40}","timestamp":\d+,"sign":"[0-9a-f]{64}"\}$/,
    );
    await client.topup({ chain: 'BSC', symbol: 'USDT', address: onBsc });
    await watched(onEth, 'ETH', 'USDT');
    await watched(onBsc, 'BSC', 'USDT');

    const ethTx = await eth.transfer(sender, onEth, 1_234_567n);
    const bscTx = await bsc.transfer(sender, onBsc, E18 + 1n);
    await mineUntil(
      both,
      () => depositsTo(onEth).length >= 2 && depositsTo(onBsc).length >= 2,
      'both deposits confirmed through the client',
    );
    expect(depositsTo(onEth)).toEqual([
      expect.objectContaining({
        status: 2,
        chain: 'ETH',
        symbol: 'USDT',
        amount: '1.234567',
        tx_hash: ethTx,
      }),
      expect.objectContaining({
        status: 1,
        chain: 'ETH',
        symbol: 'USDT',
        amount: '1.234567',
        tx_hash: ethTx,
      }),
    ]);
    expect(depositsTo(onBsc).map((a) => [a.status, a.chain, a.amount, a.tx_hash])).toEqual([
      [2, 'BSC', '1.000000000000000001', bscTx],
      [1, 'BSC', '1.000000000000000001', bscTx],
    ]);
    const [seen] = depositsTo(onBsc);
    expect(typeof seen!.block_height).toBe('number');
    expect(typeof seen!.log_index).toBe('number');
    expect(seen!.from_address).toBe(bsc.accounts[sender]!.address.toLowerCase());
    // The handler got the text as published: the amount there is the same exact JSON number.
    const delivery = topups.find((h) => h.answer === seen)!.delivery;
    expect(delivery.queue).toBe(stack.queues.topupResp.queue);
    expect(delivery.body).toContain('"amount":1.000000000000000001,');
  });

  it('withdraw and pay: one typed answer each, the amount exact, the fee a decimal string', async () => {
    const w = { id: queueId('cw'), to: randomAddress() };
    const p = { id: queueId('cp'), to: randomAddress() };
    const sentW = await client.withdraw({
      queue_id: w.id,
      from_address: user.address,
      to_address: w.to,
      amount: '2.000000000000000003',
      chain: 'BSC',
      symbol: 'USDT',
    });
    // On the wire the amount is a string: the signature covers every digit (PROTOCOL §5.3).
    expect(sentW.body).toContain('"amount":"2.000000000000000003"');
    expect(sentW.message.sign).toMatch(/^[0-9a-f]{64}$/);
    await client.pay({
      queue_id: p.id,
      order_id: 'order-7',
      from_address: user.address,
      to_address: p.to,
      amount: '1.5',
      chain: 'ETH',
      symbol: 'USDT',
    });
    await mineUntil(both, () => Boolean(withdrawal(w.id) && payment(p.id)), 'withdraw and pay answered');

    const wAnswer = withdrawal(w.id)!.answer;
    expect(wAnswer).toMatchObject({
      queue_id: w.id,
      status: 1,
      amount: '2.000000000000000003',
      chain: 'BSC',
      symbol: 'USDT',
      from_address: user.address,
      to_address: w.to,
    });
    expect(wAnswer.tx_hash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(wAnswer.fee).toMatch(/^0\.\d+$/);
    expect(await bsc.balanceOf(w.to)).toBe(2n * E18 + 3n);

    const pAnswer = payment(p.id)!.answer;
    expect(pAnswer).toMatchObject({
      queue_id: p.id,
      order_id: 'order-7',
      status: 1,
      amount: '1.5',
      chain: 'ETH',
    });
    expect(Object.keys(pAnswer).slice(0, 3)).toEqual(['queue_id', 'order_id', 'status']);
    expect(await eth.balanceOf(p.to)).toBe(1_500_000n);
  });

  it('refusals come back typed with their error code', async () => {
    const address = randomAddress();
    await client.topup({ chain: 'TRON', symbol: 'USDT', address });
    const id = queueId('cr');
    await client.withdraw({
      queue_id: id,
      from_address: user.address,
      to_address: address,
      amount: '1',
      chain: 'POLYGON',
      symbol: 'USDT',
    });
    await until(
      () => withdrawal(id) && topups.find((h) => h.answer.address === address.toLowerCase()),
      20_000,
      'two refusals',
    );
    const refusal = topups.find((h) => h.answer.address === address.toLowerCase())!.answer;
    expect(isDepositAnswer(refusal)).toBe(false);
    expect(refusal).toMatchObject({ status: 0, chain: 'TRON', error: 'unknown_chain' });
    const answer = withdrawal(id)!.answer;
    if (answer.status !== 0) throw new Error(`expected a refusal, got ${JSON.stringify(answer)}`);
    expect(answer).toMatchObject({ amount: '1', fee: '0', tx_hash: '', error: 'unknown_chain' });
    expect(answer.error_message).toContain('POLYGON');
  });

  it('issueAddress: the address of a business user, typed, and a refusal with its code', async () => {
    const mnemonic = newMnemonic();
    await stack.service.vault.initHd(mnemonic);
    const issued = queueId('ca');
    const refused = queueId('ca');
    await client.issueAddress({ request_id: issued, user_ref: 'client-user-1' });
    await client.issueAddress({ request_id: refused, user_ref: 'client-user-2', chain: 'TRON' });
    await until(() => addressAnswer(issued) && addressAnswer(refused), 20_000, 'two address answers');
    expect(addressAnswer(issued)).toMatchObject({
      request_id: issued,
      user_ref: 'client-user-1',
      status: 1,
      index: 0,
      address: mnemonicToAccount(mnemonic, { addressIndex: 0 }).address.toLowerCase(),
    });
    expect(addressAnswer(refused)).toMatchObject({
      user_ref: 'client-user-2',
      status: 0,
      error: 'unknown_chain',
    });
  });

  it('refuses a request the service would dead-letter, before sending anything', async () => {
    const base = {
      queue_id: queueId('cx'),
      from_address: user.address,
      to_address: randomAddress(),
      chain: 'ETH',
      symbol: 'USDT',
    };
    // A float is never rounded into a request: the type says string, and so does the check.
    await expect(client.withdraw({ ...base, amount: 1.5 as unknown as string })).rejects.toThrow(
      /amount must be a decimal string/,
    );
    await expect(client.withdraw({ ...base, amount: '1e3' })).rejects.toThrow(/plain decimal/);
    await expect(client.withdraw({ ...base, queue_id: 'x'.repeat(192), amount: '1' })).rejects.toThrow(
      /queue_id must be at most 191/,
    );
    await expect(client.pay({ ...base, order_id: '', amount: '1' })).rejects.toThrow(/order_id/);
    expect(await stack.business.queueMessageCount(stack.queues.withdraw.queue)).toBe(0);
  });

  it('a forged answer never reaches a handler: it ends in <response queue>.dlq', async () => {
    const forgedId = queueId('forged');
    const genuineId = queueId('genuine');
    const answer = (id: string, secret: string) =>
      withdrawResponse(
        {
          queueId: id,
          amountText: '1000000',
          chain: 'ETH',
          symbol: 'USDT',
          txHash: `0x${'ab'.repeat(32)}`,
          fromAddress: user.address,
          toAddress: randomAddress(),
          feeWei: 0n,
          feeDecimals: 18,
          status: 1,
        },
        secret,
      );
    const queue = stack.queues.withdrawResp;
    // Signed with another secret; then one whose signature is right but whose amount was changed after;
    // then no JSON at all; then a genuine answer, which (one at a time, in order) arrives after them.
    await stack.business.publishRequest(queue, answer(forgedId, 'not-the-secret'));
    await stack.business.publishRequest(
      queue,
      answer(forgedId, TEST_SIGN_KEY).replace('"amount":1000000,', '"amount":9000000,'),
    );
    await stack.business.publishRequest(queue, 'status=1&queue_id=nothing');
    await stack.business.publishRequest(queue, answer(genuineId, TEST_SIGN_KEY));
    await until(() => withdrawal(genuineId), 20_000, 'the genuine answer handled');

    expect(withdrawals.some((h) => h.answer.queue_id === forgedId)).toBe(false);
    const dlq = await stack.business.readDlq(queue.queue, { consume: true });
    expect(dlq.map((m) => m.headers['x-reject-reason'])).toEqual([
      'bad signature',
      'bad signature',
      expect.stringMatching(/^not JSON/),
    ]);
    expect(dlq[1]!.text).toContain('"amount":9000000,');
    expect(deadLetters.map((d) => d.queue)).toEqual([queue.queue, queue.queue, queue.queue]);
  });
});
