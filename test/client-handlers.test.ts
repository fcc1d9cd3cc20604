import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPaymentClient, type PaymentClient } from '../src/client/index.js';
import { withdrawResponse } from '../src/protocol/responses.js';
import { rmqJson } from './helpers/client.js';
import {
  amqpUrlVia,
  createBusinessClient,
  createTestQueues,
  TEST_AMQP_URL,
  type TestQueues,
} from './helpers/rabbit.js';
import { captureLogger, randomAddress, TEST_SIGN_KEY, until } from './helpers/service.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';

/**
 * The client SDK's handling of its own handlers and options, on queues of its own (no service: the
 * answers are signed and published by the test): a failing handler is retried after a backoff, never in
 * a hot loop, and dead-lettered after `handlerAttempts`; a bad `rmq` is reported field by field.
 */

describe('a handler that fails', () => {
  let queues: TestQueues;
  const clients: PaymentClient[] = [];
  const answer = (id: string) =>
    withdrawResponse(
      {
        queueId: id,
        amountText: '5',
        chain: 'ETH',
        symbol: 'USDT',
        txHash: '',
        fromAddress: randomAddress(),
        toAddress: randomAddress(),
        feeWei: 0n,
        feeDecimals: 18,
        status: 0,
        error: 'insufficient_funds',
        errorMessage: 'not enough',
      },
      TEST_SIGN_KEY,
    );
  const newClient = (handlerAttempts?: number, url?: string) => {
    const client = createPaymentClient({
      url,
      secret: TEST_SIGN_KEY,
      rmq: rmqJson(queues),
      logger: captureLogger().logger,
      retryMinMs: 10,
      retryMaxMs: 50,
      handlerAttempts,
    });
    clients.push(client);
    return client;
  };

  beforeAll(() => {
    queues = createTestQueues();
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await queues.cleanup();
  });

  it('is called again after a backoff, and the answer is acknowledged once it succeeds', async () => {
    const business = await createBusinessClient();
    try {
      const calls: string[] = [];
      const client = newClient();
      const sub = client.onWithdraw(async (a) => {
        calls.push(a.queue_id);
        if (calls.length < 3) throw new Error('database down');
      });
      expect(await client.ready(20_000)).toBe(true);
      await business.publishRequest(queues.withdrawResp, answer('retry-1'));
      await until(() => calls.length >= 3, 20_000, 'three calls');
      await sub.close();
      expect(calls).toEqual(['retry-1', 'retry-1', 'retry-1']);
      expect(await business.queueMessageCount(queues.withdrawResp.queue)).toBe(0);
      expect(await business.queueMessageCount(`${queues.withdrawResp.queue}.dlq`)).toBe(0);
    } finally {
      await business.close();
    }
  });

  it('acknowledges an answer only once its handler resolved: cut off before, it comes again', async () => {
    const broker = new URL(TEST_AMQP_URL);
    const proxy = await startTcpProxy(broker.hostname, Number(broker.port || 5672));
    const business = await createBusinessClient();
    let client: PaymentClient | undefined;
    try {
      const seen: { id: string; redelivered: boolean }[] = [];
      let release = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      client = newClient(undefined, amqpUrlVia(proxy.address));
      const sub = client.onWithdraw(async (a, delivery) => {
        seen.push({ id: a.queue_id, redelivered: delivery.redelivered });
        if (seen.length === 1) await gate;
      });
      expect(await client.ready(20_000)).toBe(true);
      await business.publishRequest(queues.withdrawResp, answer('held-1'));
      await until(() => seen.length === 1, 20_000, 'the handler called');
      // The connection drops while the handler runs; the handler then finishes, but its ack is lost.
      proxy.cut('reset');
      release();
      proxy.restore();
      await until(() => seen.length === 2, 30_000, 'the answer handed over again');
      await sub.close();
      expect(seen).toEqual([
        { id: 'held-1', redelivered: false },
        { id: 'held-1', redelivered: true },
      ]);
      expect(await business.queueMessageCount(queues.withdrawResp.queue)).toBe(0);
    } finally {
      await client?.close();
      await business.close();
      await proxy.close();
    }
  });

  it('with handlerAttempts, goes to the .dlq after that many failures (never a hot loop)', async () => {
    const business = await createBusinessClient();
    try {
      let calls = 0;
      const client = newClient(3);
      client.onWithdraw(() => {
        calls++;
        throw new Error('bug in the handler');
      });
      expect(await client.ready(20_000)).toBe(true);
      await business.publishRequest(queues.withdrawResp, answer('poison-1'));
      const dlq = await until(
        async () => {
          // The .dlq is declared by the consumer's setup: until then reading it fails.
          const got = await business.readDlq(queues.withdrawResp.queue).catch(() => []);
          return got.length > 0 ? got : undefined;
        },
        20_000,
        'the answer in the dlq',
      );
      expect(calls).toBe(3);
      expect(dlq[0]!.headers['x-reject-reason']).toBe('handler failed 3 times: bug in the handler');
      expect(JSON.parse(dlq[0]!.text).queue_id).toBe('poison-1');
    } finally {
      await business.close();
    }
  });

  it('without address queues in rmq_config, issueAddress and onAddress say so', async () => {
    const client = newClient();
    await expect(client.issueAddress({ request_id: 'r', user_ref: 'u' })).rejects.toThrow(
      /rmq_config has no address queue/,
    );
    expect(() => client.onAddress(() => {})).toThrow(/rmq_config has no address_resp queue/);
  });

  it('a bad rmq option is reported field by field, as the service reports its config', () => {
    expect(() =>
      createPaymentClient({
        url: 'http://localhost',
        secret: 's',
        rmq: { ...rmqJson(queues), pay_resp: { queue: '', exchange: 'x', routing: [] } },
      }),
    ).toThrow(
      /rmq_config\.sub_addr: found "http:\/\/localhost", expected an amqp:\/\/ or amqps:\/\/ URL\nrmq_config\.pay_resp\.queue: found "", expected a non-empty string\nrmq_config\.pay_resp\.routing/,
    );
  });
});
