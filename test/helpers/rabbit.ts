import { randomBytes } from 'node:crypto';
import amqplib from 'amqplib';
import type { Config, QueueConfig } from '../../src/config/types.js';

/** The broker the tests use; TEST_AMQP_URL overrides it. */
export const TEST_AMQP_URL = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** The same credentials through another `host:port` (a TCP proxy the test owns). */
export function amqpUrlVia(address: string): string {
  const url = new URL(TEST_AMQP_URL);
  return `${url.protocol}//${url.username}:${url.password}@${address}${url.pathname === '/' ? '' : url.pathname}`;
}

export type TestQueues = Config['rmq'] & {
  /** Deletes every queue (the `.dlq` ones too) and exchange of this set. */
  cleanup(): Promise<void>;
};

/**
 * The v2 topology (one exchange, six queues) under names of its own, so tests running at the same
 * time never share a queue. `url` overrides where the service connects (e.g. a proxy); cleanup always
 * goes to the broker directly.
 */
export function createTestQueues(options: { url?: string } = {}): TestQueues {
  const suffix = randomBytes(4).toString('hex');
  const exchange = `t.${suffix}.pay.exchange`;
  const q = (name: string): QueueConfig => ({
    queue: `t.${suffix}.pay.${name}.queue`,
    exchange,
    routing: [`t.${suffix}.pay.${name}.routing.key`],
  });
  const rmq: Config['rmq'] = {
    url: options.url ?? TEST_AMQP_URL,
    pay: q('auto'),
    topup: q('recharge'),
    withdraw: q('withdraw'),
    payResp: q('auto.return'),
    topupResp: q('recharge.return'),
    withdrawResp: q('withdraw.return'),
  };
  return { ...rmq, cleanup: () => deleteTopology(rmq) };
}

async function deleteTopology(rmq: Config['rmq']): Promise<void> {
  const all = [rmq.topup, rmq.withdraw, rmq.pay, rmq.topupResp, rmq.withdrawResp, rmq.payResp];
  const conn = await amqplib.connect(TEST_AMQP_URL);
  try {
    const ch = await conn.createChannel();
    for (const q of all) {
      await ch.deleteQueue(q.queue);
      await ch.deleteQueue(`${q.queue}.dlq`);
    }
    for (const exchange of new Set(all.map((q) => q.exchange))) await ch.deleteExchange(exchange);
    await ch.close();
  } finally {
    await conn.close();
  }
}

export interface ReceivedMessage {
  /** JSON.parse of the body, or undefined when it is not JSON. */
  json: unknown;
  text: string;
  headers: Record<string, unknown>;
  properties: amqplib.MessageProperties;
}

export interface Collector {
  readonly messages: ReceivedMessage[];
  /** The first message (already received or still to come) matching `predicate`. */
  waitFor(predicate: (m: ReceivedMessage) => boolean, timeoutMs?: number): Promise<ReceivedMessage>;
  /** Resolves with all messages once at least `n` arrived. */
  waitForCount(n: number, timeoutMs?: number): Promise<ReceivedMessage[]>;
  stop(): Promise<void>;
}

export interface PublishRequestOptions {
  /** Default 'application/json' (what a v2 business system sends); null leaves it unset. */
  contentType?: string | null;
  headers?: Record<string, unknown>;
  messageId?: string;
}

/** A business system talking to the service over RabbitMQ, through amqplib (not the service's client). */
export interface BusinessClient {
  /** Publishes `body` as it is to the queue's exchange with its first routing key, and waits for the confirm. */
  publishRequest(queue: QueueConfig, body: string, options?: PublishRequestOptions): Promise<void>;
  /** Starts collecting what arrives on the queue (declared and bound here too, so nothing is missed). */
  collect(queue: QueueConfig): Promise<Collector>;
  /** The messages in `<queue>.dlq` (`name` may already end in `.dlq`). Left in place unless `consume`. */
  readDlq(name: string, options?: { consume?: boolean }): Promise<ReceivedMessage[]>;
  /** Message count of a queue, or undefined when it does not exist. */
  queueMessageCount(name: string): Promise<number | undefined>;
  deleteQueue(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function createBusinessClient(url: string = TEST_AMQP_URL): Promise<BusinessClient> {
  const conn = await amqplib.connect(url);
  conn.on('error', () => {});
  const pub = await conn.createConfirmChannel();
  const collectors = new Set<Collector>();

  async function withChannel<T>(fn: (ch: amqplib.Channel) => Promise<T>): Promise<T> {
    const ch = await conn.createChannel();
    // A failed check closes the channel with an error; it must not become an unhandled event.
    ch.on('error', () => {});
    try {
      return await fn(ch);
    } finally {
      await ch.close().catch(() => {});
    }
  }

  return {
    async publishRequest(queue, body, options = {}) {
      const routingKey = queue.routing[0] ?? '';
      const contentType = options.contentType === undefined ? 'application/json' : options.contentType;
      await new Promise<void>((resolve, reject) => {
        pub.publish(
          queue.exchange,
          routingKey,
          Buffer.from(body, 'utf8'),
          {
            persistent: true,
            ...(contentType === null ? {} : { contentType }),
            headers: options.headers,
            messageId: options.messageId,
          },
          (err) => (err ? reject(err) : resolve()),
        );
      });
    },

    async collect(queue) {
      const ch = await conn.createChannel();
      await ch.assertExchange(queue.exchange, 'direct', { durable: true });
      await ch.assertQueue(queue.queue, { durable: true });
      for (const key of queue.routing) await ch.bindQueue(queue.queue, queue.exchange, key);
      const messages: ReceivedMessage[] = [];
      const waiters = new Set<() => void>();
      const { consumerTag } = await ch.consume(queue.queue, (msg) => {
        if (!msg) return;
        messages.push(toReceived(msg));
        ch.ack(msg);
        for (const w of waiters) w();
      });

      function until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
        return new Promise((resolve, reject) => {
          const test = () => {
            const found = check();
            if (found === undefined) return;
            clearTimeout(timer);
            waiters.delete(test);
            resolve(found);
          };
          const timer = setTimeout(() => {
            waiters.delete(test);
            reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} on ${queue.queue}`));
          }, timeoutMs);
          waiters.add(test);
          test();
        });
      }

      const collector: Collector = {
        messages,
        waitFor: (predicate, timeoutMs = 10_000) =>
          until(() => messages.find(predicate), timeoutMs, 'a message'),
        waitForCount: (n, timeoutMs = 10_000) =>
          until(() => (messages.length >= n ? messages : undefined), timeoutMs, `${n} messages`),
        async stop() {
          collectors.delete(collector);
          await ch.cancel(consumerTag).catch(() => {});
          await ch.close().catch(() => {});
        },
      };
      collectors.add(collector);
      return collector;
    },

    readDlq(name, options = {}) {
      const queue = name.endsWith('.dlq') ? name : `${name}.dlq`;
      return withChannel(async (ch) => {
        const got: amqplib.GetMessage[] = [];
        for (;;) {
          const msg = await ch.get(queue, { noAck: false });
          if (msg === false) break;
          got.push(msg);
        }
        // Held unacked until the end, so each is read once; then put back unless consumed.
        if (got.length > 0) {
          if (options.consume) ch.ackAll();
          else ch.nackAll(true);
        }
        return got.map(toReceived);
      });
    },

    queueMessageCount(name) {
      return withChannel((ch) => ch.checkQueue(name).then((q) => q.messageCount)).catch(() => undefined);
    },

    async deleteQueue(name) {
      await withChannel((ch) => ch.deleteQueue(name));
    },

    async close() {
      await Promise.allSettled([...collectors].map((c) => c.stop()));
      await pub.close().catch(() => {});
      await conn.close().catch(() => {});
    },
  };
}

function toReceived(msg: amqplib.Message): ReceivedMessage {
  const text = msg.content.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { json, text, headers: { ...(msg.properties.headers ?? {}) }, properties: msg.properties };
}
