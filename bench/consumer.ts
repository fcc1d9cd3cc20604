import amqplib from 'amqplib';
import type { QueueConfig } from '../src/config/types.js';
import { TEST_AMQP_URL } from '../test/helpers/rabbit.js';
import { nowMs } from './ipc.js';

export interface TopupArrival {
  at: number;
  /** queue_id of a withdraw or pay response. */
  queueId?: string;
  status: number;
  txHash: string;
  blockHeight: number;
}

export interface ResponseConsumer {
  readonly arrivals: TopupArrival[];
  /** Resolves once `check(arrivals)` holds (checked on every arrival). */
  until(check: (arrivals: TopupArrival[]) => boolean, timeoutMs: number, what: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A business system reading a response queue (topup, withdraw, pay), timing each message as it arrives.
 * `purge`: drop what earlier parts left in the queue first (tens of thousands of backfill answers).
 */
export async function consumeTopupResponses(
  queue: QueueConfig,
  options: { purge?: boolean } = {},
): Promise<ResponseConsumer> {
  const conn = await amqplib.connect(TEST_AMQP_URL);
  conn.on('error', () => {});
  const ch = await conn.createChannel();
  await ch.assertExchange(queue.exchange, 'direct', { durable: true });
  await ch.assertQueue(queue.queue, { durable: true });
  for (const key of queue.routing) await ch.bindQueue(queue.queue, queue.exchange, key);
  if (options.purge) await ch.purgeQueue(queue.queue);
  const arrivals: TopupArrival[] = [];
  const waiters = new Set<() => void>();
  await ch.consume(
    queue.queue,
    (msg) => {
      if (!msg) return;
      const at = nowMs();
      const body = JSON.parse(msg.content.toString('utf8')) as {
        status: number;
        tx_hash: string;
        block_height: number;
        queue_id?: string;
      };
      arrivals.push({
        at,
        queueId: body.queue_id,
        status: body.status,
        txHash: body.tx_hash,
        blockHeight: body.block_height,
      });
      for (const w of waiters) w();
    },
    { noAck: true },
  );
  return {
    arrivals,
    until(check, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const test = () => {
          if (!check(arrivals)) return;
          clearTimeout(timer);
          waiters.delete(test);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(test);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        waiters.add(test);
        test();
      });
    },
    async close() {
      await ch.close().catch(() => {});
      await conn.close().catch(() => {});
    },
  };
}
