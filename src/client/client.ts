import { createBroker, type IncomingMessage } from '../amqp/index.js';
import { createChecker } from '../config/check.js';
import { ConfigError } from '../config/errors.js';
import { parseRmq } from '../config/parse.js';
import type { Config, QueueConfig } from '../config/types.js';
import { errorMessage } from '../internal/errors.js';
import { createLogger, type Logger } from '../internal/logger.js';
import {
  type ReadResult,
  readAddressAnswer,
  readPayAnswer,
  readTopupAnswer,
  readWithdrawAnswer,
} from './answers.js';
import type {
  AddressAnswer,
  AddressRequest,
  AnswerHandler,
  PayAnswer,
  PayRequest,
  RmqConfigJson,
  SentRequest,
  TopupAnswer,
  TopupRequest,
  WithdrawAnswer,
  WithdrawRequest,
} from './messages.js';
import { addressBody, payBody, topupBody, withdrawBody } from './requests.js';

export interface PaymentClientOptions {
  /** The AMQP URL (`amqp://user:password@host:5672/vhost`); default `rmq.sub_addr`. */
  url?: string;
  /** The signing secret shared with the service (its `PAYMENT_SIGN_KEY`). */
  secret: string;
  /** The service's `rmq_config`, as it is in its config.json. */
  rmq: RmqConfigJson;
  /** A pino logger; default JSON lines on stderr, warnings and errors only. */
  logger?: Logger;
  /**
   * Answers of one queue handled at once. Default 1: a queue's answers reach its handler one after the
   * other, in the order the service published them (a deposit's `status 2` before its `status 1`).
   */
  prefetch?: number;
  /**
   * How often a handler may fail on one answer before the answer is moved to `<response queue>.dlq`.
   * Default: no limit (it is retried until the handler succeeds; see docs/CLIENT.md).
   */
  handlerAttempts?: number;
  /** Wait before retrying a failed handler, doubled after each failure up to the max. Default 500 / 10,000 ms. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Called after an answer was moved to `<response queue>.dlq`, with the reason. */
  onDeadLetter?: (queue: string, reason: string) => void;
}

export interface Subscription {
  /** The response queue consumed. */
  readonly queue: string;
  /** Stops taking answers; resolves once the handlers running now finished. */
  close(): Promise<void>;
}

export interface PaymentClient {
  /** Publishes a signed topup request (persistent, with a publisher confirm). */
  topup(fields: TopupRequest): Promise<SentRequest<TopupRequest>>;
  /** Publishes a signed withdraw request. Sending it again with the same `queue_id` is safe. */
  withdraw(fields: WithdrawRequest): Promise<SentRequest<WithdrawRequest>>;
  /** Publishes a signed pay request. Sending it again with the same `queue_id` is safe. */
  pay(fields: PayRequest): Promise<SentRequest<PayRequest>>;
  /**
   * Publishes a signed address request (PROTOCOL §7.4). Throws when `rmq` has no `address` queue (the
   * service then issues no addresses).
   */
  issueAddress(fields: AddressRequest): Promise<SentRequest<AddressRequest>>;
  /** Consumes the topup response queue: deposits (`status 2`, `1`, `0`) and refused topups. */
  onTopup(handler: AnswerHandler<TopupAnswer>): Subscription;
  onWithdraw(handler: AnswerHandler<WithdrawAnswer>): Subscription;
  onPay(handler: AnswerHandler<PayAnswer>): Subscription;
  /** Consumes the address response queue; throws when `rmq` has no `address_resp` queue. */
  onAddress(handler: AnswerHandler<AddressAnswer>): Subscription;
  /** Resolves true once connected to the broker with the queues declared, false after `timeoutMs`. */
  ready(timeoutMs?: number): Promise<boolean>;
  /** Stops the consumers (letting running handlers finish), then closes the connection. */
  close(): Promise<void>;
}

/** `rmq` with `url` as its `sub_addr`, read as the service reads its config (PROTOCOL §2.3). */
function readRmq(options: PaymentClientOptions): Config['rmq'] {
  const c = createChecker();
  const given: unknown = options.rmq;
  const withUrl =
    typeof given === 'object' && given !== null
      ? { ...given, sub_addr: options.url ?? options.rmq.sub_addr }
      : given;
  const rmq = parseRmq(c, withUrl);
  if (!rmq || c.problems.length > 0) throw new ConfigError(c.problems);
  return rmq;
}

/**
 * A business system's side of the service: builds, signs and publishes requests, and consumes, verifies
 * and types the answers (docs/CLIENT.md). Connects at once, and reconnects by itself.
 */
export function createPaymentClient(options: PaymentClientOptions): PaymentClient {
  const rmq = readRmq(options);
  const { secret } = options;
  if (typeof secret !== 'string' || secret === '') throw new TypeError('secret must be a non-empty string');
  const logger = (options.logger ?? createLogger({ level: 'warn', destination: process.stderr })).child({
    component: 'payment-client',
  });
  const attempts = options.handlerAttempts ?? Number.POSITIVE_INFINITY;
  if (!(attempts >= 1)) throw new TypeError('handlerAttempts must be at least 1');
  const broker = createBroker({ logger }, { rmq });
  const subscriptions = new Map<string, Subscription>();
  const nowS = () => Math.floor(Date.now() / 1000);
  let closed = false;

  function checkOpen(): void {
    if (closed) throw new Error('the payment client is closed');
  }

  async function send<T>(
    queue: QueueConfig,
    build: () => { message: Record<string, unknown>; body: string },
  ): Promise<SentRequest<T>> {
    checkOpen();
    const { message, body } = build();
    // Persistent and mandatory, resolved on the broker's confirm (src/amqp/publisher.ts).
    await broker.publish(queue.exchange, queue.routing[0] ?? '', body);
    return { message: message as SentRequest<T>['message'], body, queue: queue.queue };
  }

  function subscribe<A>(
    queue: QueueConfig,
    read: (body: string, secret: string) => ReadResult<A>,
    handler: AnswerHandler<A>,
  ): Subscription {
    checkOpen();
    if (subscriptions.has(queue.queue)) throw new Error(`already consuming ${queue.queue}`);
    // Failures per delivery: the consumer calls us again with the same message after its backoff.
    const failures = new WeakMap<IncomingMessage, number>();
    const consumer = broker.createConsumer(
      queue,
      async (incoming) => {
        const result = read(incoming.body, secret);
        // Forged, corrupt or foreign: never a handler's business (moved to <queue>.dlq with the reason).
        if (!result.ok) return { deadLetter: result.reason };
        try {
          await handler(result.answer, {
            queue: queue.queue,
            body: incoming.body,
            redelivered: incoming.redelivered,
            messageId: incoming.properties.messageId,
          });
          return 'ack';
        } catch (err) {
          const count = (failures.get(incoming) ?? 0) + 1;
          failures.set(incoming, count);
          if (count >= attempts) {
            logger.error({ err, failures: count }, 'answer handler failed; moving the answer to the dlq');
            return { deadLetter: `handler failed ${count} times: ${errorMessage(err)}`.slice(0, 500) };
          }
          // A plain Error, so the consumer holds the message unacked and retries it after its backoff
          // (whatever the handler threw, even an error of ours that says "not retryable").
          throw new Error(`answer handler failed (${count}): ${errorMessage(err)}`);
        }
      },
      {
        prefetch: options.prefetch ?? 1,
        retryMinMs: options.retryMinMs,
        retryMaxMs: options.retryMaxMs,
        onDeadLetter: options.onDeadLetter,
      },
    );
    const subscription: Subscription = {
      queue: queue.queue,
      async close() {
        await consumer.close();
        subscriptions.delete(queue.queue);
      },
    };
    subscriptions.set(queue.queue, subscription);
    return subscription;
  }

  function addressQueue(queue: QueueConfig | undefined, key: string): QueueConfig {
    if (!queue) throw new Error(`rmq_config has no ${key} queue: the service issues no addresses`);
    return queue;
  }

  return {
    topup: (fields) => send(rmq.topup, () => topupBody(fields, secret, nowS)),
    withdraw: (fields) => send(rmq.withdraw, () => withdrawBody(fields, secret, nowS)),
    pay: (fields) => send(rmq.pay, () => payBody(fields, secret, nowS)),
    issueAddress: async (fields) =>
      send(addressQueue(rmq.address, 'address'), () => addressBody(fields, secret, nowS)),
    onAddress: (handler) =>
      subscribe(addressQueue(rmq.addressResp, 'address_resp'), readAddressAnswer, handler),
    onTopup: (handler) => subscribe(rmq.topupResp, readTopupAnswer, handler),
    onWithdraw: (handler) => subscribe(rmq.withdrawResp, readWithdrawAnswer, handler),
    onPay: (handler) => subscribe(rmq.payResp, readPayAnswer, handler),
    ready: (timeoutMs = 10_000) => broker.waitReady(timeoutMs),
    async close() {
      if (closed) return;
      closed = true;
      await broker.close();
      subscriptions.clear();
    },
  };
}
