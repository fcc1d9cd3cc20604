import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  amqpUrlVia,
  type BusinessClient,
  createBusinessClient,
  createTestQueues,
  type TestQueues,
} from '../../test/helpers/rabbit.js';
import { startTcpProxy, type TcpProxy } from '../../test/helpers/tcp-proxy.js';
import { createLogger } from '../internal/logger.js';
import { type Broker, createBroker } from './connection.js';
import type { IncomingMessage } from './consumer.js';

const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });

let queues: TestQueues;
let proxy: TcpProxy;
let broker: Broker;
let biz: BusinessClient;

beforeEach(async () => {
  const direct = new URL(createTestQueues().url);
  proxy = await startTcpProxy(direct.hostname, Number(direct.port || 5672));
  queues = createTestQueues({ url: amqpUrlVia(proxy.address) });
  broker = createBroker({ logger }, { rmq: queues, retryLowMs: 100, retryHighMs: 500, heartbeatS: 1 });
  expect(await broker.waitReady(10_000)).toBe(true);
  // The business system talks to the broker directly: only the service's link is cut.
  biz = await createBusinessClient();
});

afterEach(async () => {
  await biz.close();
  await broker.close();
  await proxy.close();
  await queues.cleanup();
});

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('broker reconnect', () => {
  it('declares the topology again after a reconnect', async () => {
    await biz.deleteQueue(queues.topupResp.queue);
    await biz.deleteQueue(`${queues.pay.queue}.dlq`);
    expect(await biz.queueMessageCount(queues.topupResp.queue)).toBeUndefined();

    let reconnects = 0;
    broker.onConnected(() => reconnects++);
    proxy.cut();
    await until(() => !broker.isConnected());
    proxy.restore();
    await until(() => broker.isConnected() && reconnects === 1);
    expect(await biz.queueMessageCount(queues.topupResp.queue)).toBe(0);
    expect(await biz.queueMessageCount(`${queues.pay.queue}.dlq`)).toBe(0);
  });

  it('keeps consuming after the connection comes back', async () => {
    const bodies: string[] = [];
    const consumer = broker.createConsumer(queues.topup, async (msg) => {
      bodies.push(msg.body);
      return 'ack';
    });
    await biz.publishRequest(queues.topup, '{"n":1}');
    await until(() => bodies.length === 1);
    proxy.cut();
    await until(() => !broker.isConnected());
    await biz.publishRequest(queues.topup, '{"n":2}');
    await new Promise((r) => setTimeout(r, 300));
    expect(bodies).toHaveLength(1);
    proxy.restore();
    await until(() => bodies.length === 2);
    expect(bodies).toEqual(['{"n":1}', '{"n":2}']);
    await consumer.close();
    expect(await biz.queueMessageCount(queues.topup.queue)).toBe(0);
  });

  it('gets a message back when the connection dropped before its ack', async () => {
    const calls: IncomingMessage[] = [];
    let cutDone!: () => void;
    const cutSignal = new Promise<void>((r) => {
      cutDone = r;
    });
    const consumer = broker.createConsumer(queues.withdraw, async (msg) => {
      calls.push(msg);
      // The first run commits while the link is down, so its ack cannot reach the broker.
      if (calls.length === 1) await cutSignal;
      return 'ack';
    });
    await biz.publishRequest(queues.withdraw, '{"queue_id":"w1"}');
    await until(() => calls.length === 1);
    proxy.cut();
    await until(() => !broker.isConnected());
    cutDone();
    proxy.restore();
    await until(() => calls.length === 2);
    expect(calls[1]!.redelivered).toBe(true);
    expect(calls[1]!.body).toBe('{"queue_id":"w1"}');
    await consumer.close();
    expect(await biz.queueMessageCount(queues.withdraw.queue)).toBe(0);
  });

  it('notices a silent partition through heartbeats', async () => {
    proxy.cut('blackhole');
    await until(() => !broker.isConnected(), 10_000);
    proxy.restore();
    await until(() => broker.isConnected(), 10_000);
  });
});
