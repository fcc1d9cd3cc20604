import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type BusinessClient,
  createBusinessClient,
  createTestQueues,
  type TestQueues,
} from '../../test/helpers/rabbit.js';
import { createLogger } from '../internal/logger.js';
import { type Broker, createBroker } from './connection.js';
import type { HandlerOutcome, IncomingMessage } from './consumer.js';

const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });

let queues: TestQueues;
let broker: Broker;
let biz: BusinessClient;

beforeEach(async () => {
  queues = createTestQueues();
  broker = createBroker({ logger }, { rmq: queues, retryLowMs: 100, retryHighMs: 1000 });
  expect(await broker.waitReady(10_000)).toBe(true);
  biz = await createBusinessClient();
});

afterEach(async () => {
  await biz.close();
  await broker.close();
  await queues.cleanup();
});

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('consumer', () => {
  it('declares the whole topology, the .dlq queues included', async () => {
    for (const q of [
      queues.topup,
      queues.withdraw,
      queues.pay,
      queues.topupResp,
      queues.withdrawResp,
      queues.payResp,
    ]) {
      expect(await biz.queueMessageCount(q.queue)).toBe(0);
    }
    for (const q of [queues.topup, queues.withdraw, queues.pay]) {
      expect(await biz.queueMessageCount(`${q.queue}.dlq`)).toBe(0);
    }
  });

  it('hands the handler the exact body text and acks after it returns', async () => {
    const seen: IncomingMessage[] = [];
    const release = deferred();
    const consumer = broker.createConsumer(queues.topup, async (msg) => {
      seen.push(msg);
      await release.promise;
      return 'ack';
    });
    // application/json would be JSON.parsed by rabbitmq-client (100.50 -> 100.5) without the raw-body shim.
    const body = '{"amount":100.50,"big":123456789012345678901234567890, "address":"0xAB"}';
    await biz.publishRequest(queues.topup, body, { headers: { 'x-trace': 'abc' }, messageId: 'm-1' });
    await until(() => seen.length === 1);
    const msg = seen[0]!;
    expect(msg.body).toBe(body);
    expect(msg.headers['x-trace']).toBe('abc');
    expect(msg.properties.messageId).toBe('m-1');
    expect(msg.properties.contentType).toBe('application/json');
    expect(msg.properties.contentEncoding).toBeUndefined();
    expect(msg.routingKey).toBe(queues.topup.routing[0]);

    release.resolve();
    await consumer.close();
    // Not acked would mean: back in the queue once the consumer's channel closed.
    expect(await biz.queueMessageCount(queues.topup.queue)).toBe(0);
    expect(await biz.readDlq(queues.topup.queue)).toHaveLength(0);
  });

  it('moves a dead-lettered message unchanged to <queue>.dlq, then acks it', async () => {
    const deadLetters: [string, string][] = [];
    let calls = 0;
    const consumer = broker.createConsumer(
      queues.withdraw,
      async () => {
        calls++;
        return { deadLetter: 'invalid_json' };
      },
      { onDeadLetter: (queue, reason) => deadLetters.push([queue, reason]) },
    );
    const body = '{"queue_id": "q1", "amount": 1.50, oops';
    await biz.publishRequest(queues.withdraw, body, { headers: { 'x-custom': 'v', n: 7 }, messageId: 'm-2' });
    await until(() => deadLetters.length === 1);
    expect(deadLetters[0]).toEqual([queues.withdraw.queue, 'invalid_json']);

    const dlq = await biz.readDlq(queues.withdraw.queue);
    expect(dlq).toHaveLength(1);
    const moved = dlq[0]!;
    expect(moved.text).toBe(body);
    expect(moved.headers).toEqual({ 'x-custom': 'v', n: 7, 'x-reject-reason': 'invalid_json' });
    expect(moved.properties.messageId).toBe('m-2');
    expect(moved.properties.contentType).toBe('application/json');
    expect(moved.properties.contentEncoding).toBeUndefined();
    // rabbitmq-client stamps a timestamp on messages without one; the copy must not gain it.
    expect(moved.properties.timestamp).toBeUndefined();
    expect(moved.properties.deliveryMode).toBe(2);

    // The original is gone: not redelivered, not left in the queue.
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toBe(1);
    await consumer.close();
    expect(await biz.queueMessageCount(queues.withdraw.queue)).toBe(0);
  });

  it('retries a throwing handler with backoff on the same delivery until it succeeds', async () => {
    const attempts: IncomingMessage[] = [];
    const consumer = broker.createConsumer(
      queues.pay,
      async (msg): Promise<HandlerOutcome> => {
        attempts.push(msg);
        if (attempts.length < 4) throw new Error('database is down');
        return 'ack';
      },
      { retryMinMs: 50, retryMaxMs: 200 },
    );
    await biz.publishRequest(queues.pay, '{"queue_id":"p1"}');
    await until(() => attempts.length === 4);
    await new Promise((r) => setTimeout(r, 300));
    expect(attempts).toHaveLength(4);
    // Retried in place, not requeued through the broker.
    expect(attempts.every((m) => !m.redelivered && m.body === '{"queue_id":"p1"}')).toBe(true);
    await consumer.close();
    expect(await biz.queueMessageCount(queues.pay.queue)).toBe(0);
  });

  it('puts a message still being retried back in the queue when closing', async () => {
    let attempts = 0;
    const consumer = broker.createConsumer(
      queues.pay,
      async () => {
        attempts++;
        throw new Error('database is down');
      },
      { retryMinMs: 10_000, retryMaxMs: 10_000 },
    );
    await biz.publishRequest(queues.pay, '{"queue_id":"p2"}');
    await until(() => attempts === 1);
    const started = Date.now();
    await consumer.close();
    // The backoff wait is cut short by close().
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(attempts).toBe(1);
    expect(await biz.queueMessageCount(queues.pay.queue)).toBe(1);
    expect(await biz.readDlq(queues.pay.queue)).toHaveLength(0);
  });

  it('runs at most `prefetch` handlers at once and waits for them on close', async () => {
    let running = 0;
    let maxRunning = 0;
    let done = 0;
    const release = deferred();
    const consumer = broker.createConsumer(
      queues.topup,
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await release.promise;
        running--;
        done++;
        return 'ack';
      },
      { prefetch: 5 },
    );
    for (let i = 0; i < 20; i++) await biz.publishRequest(queues.topup, `{"i":${i}}`);
    await until(() => running === 5);
    await new Promise((r) => setTimeout(r, 200));
    expect(maxRunning).toBe(5);
    const closing = consumer.close();
    release.resolve();
    await closing;
    // The five in flight finished and were acked; the rest stayed in the queue.
    expect(done).toBe(5);
    expect(await biz.queueMessageCount(queues.topup.queue)).toBe(15);
  });

  it('subscribes again when its queue is deleted under it', async () => {
    const bodies: string[] = [];
    const consumer = broker.createConsumer(queues.topup, async (msg) => {
      bodies.push(msg.body);
      return 'ack';
    });
    await biz.publishRequest(queues.topup, '{"n":1}');
    await until(() => bodies.length === 1);
    await biz.deleteQueue(queues.topup.queue);
    // The consumer declares and binds it again, then consumes.
    await until(async () => (await biz.queueMessageCount(queues.topup.queue)) !== undefined);
    await new Promise((r) => setTimeout(r, 200));
    await biz.publishRequest(queues.topup, '{"n":2}');
    await until(() => bodies.length === 2);
    expect(bodies).toEqual(['{"n":1}', '{"n":2}']);
    await consumer.close();
  });
});
