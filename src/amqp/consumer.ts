import type { AsyncMessage, Channel, Connection, Envelope, HeaderFields } from 'rabbitmq-client';
import type { QueueConfig } from '../config/types.js';
import { backoffMs, defaultBackoff } from '../internal/backoff.js';
import { errorMessage, isRetryable, sleep } from '../internal/errors.js';
import type { Logger } from '../internal/logger.js';
import { defaultOptions } from '../internal/options.js';
import type { ConfirmedPublisher } from './publisher.js';
import { keepRawBodies, restoreRawMessage } from './raw-body.js';
import { declareTopology, dlqName, queueTopology } from './topology.js';

/** What became of a message: `'ack'` once its effects are committed, or moved to `<queue>.dlq`. */
export type HandlerOutcome = 'ack' | { deadLetter: string };

export interface IncomingMessage {
  /** The body as UTF-8 text, exactly as published (never JSON-parsed by the client). */
  body: string;
  /** The body bytes. */
  raw: Buffer;
  /** AMQP properties (contentType, messageId, timestamp, …) as received. */
  properties: Omit<HeaderFields, 'headers'>;
  headers: Record<string, unknown>;
  exchange: string;
  routingKey: string;
  redelivered: boolean;
}

/** Throwing means "could not decide now" (e.g. the database is down): the call is retried. */
export type MessageHandler = (msg: IncomingMessage) => Promise<HandlerOutcome>;

export interface ConsumerOptions {
  /** Unacknowledged messages the broker may hand us at once; also the handler concurrency. Default 50. */
  prefetch?: number;
  /** Called after a message was moved to its `.dlq` (metrics). */
  onDeadLetter?: (queue: string, reason: string) => void;
  /** Handler retry backoff: first wait, doubled after each failure up to the max. Default 500 / 10000. */
  retryMinMs?: number;
  retryMaxMs?: number;
}

export interface ConsumerDeps {
  connection: Connection;
  publisher: ConfirmedPublisher;
  queue: QueueConfig;
  handler: MessageHandler;
  options: ConsumerOptions;
}

/** Header naming why a message was moved to a `.dlq` (PROTOCOL.md §5). */
export const REJECT_REASON_HEADER = 'x-reject-reason';

/**
 * Consumes one queue with manual acks on a channel of its own, and subscribes again after the
 * channel or the connection is lost, or the broker cancels it (queue deleted). Its own loop rather
 * than rabbitmq-client's Consumer: we need the raw body bytes (see raw-body.ts), retries that stop
 * when the delivery's channel is gone, and a nack-with-requeue when closing mid-retry.
 */
export class QueueConsumer {
  readonly queue: string;
  readonly #logger: Logger;
  readonly #deps: ConsumerDeps;
  readonly #prefetch: number;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  #ch: Channel | undefined;
  #consumerTag = '';
  #closing = false;
  #closed: Promise<void> | undefined;
  readonly #stop = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  #setupTimer: NodeJS.Timeout | undefined;
  #settingUp = false;
  #setupFailures = 0;

  constructor(common: { logger: Logger }, deps: ConsumerDeps) {
    this.queue = deps.queue.queue;
    this.#logger = common.logger.child({ queue: this.queue });
    this.#deps = deps;
    this.#prefetch = deps.options.prefetch ?? defaultOptions.consumer.prefetch;
    this.#retryMinMs = deps.options.retryMinMs ?? defaultBackoff.firstMs;
    this.#retryMaxMs = deps.options.retryMaxMs ?? defaultBackoff.maxMs;
  }

  start(): void {
    this.#scheduleSetup();
  }

  /** Messages being handled now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Stops taking messages, lets running handlers finish (one still retrying puts its message back in
   * the queue), then closes the channel. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    this.#stop.abort();
    clearTimeout(this.#setupTimer);
    const ch = this.#ch;
    if (ch?.active && this.#consumerTag) {
      await ch.basicCancel({ consumerTag: this.#consumerTag }).catch(() => {});
    }
    while (this.#inFlight.size > 0) await Promise.allSettled(this.#inFlight);
    if (ch?.active) await ch.close().catch(() => {});
  }

  #backoff(failures: number): number {
    return backoffMs(failures, { firstMs: this.#retryMinMs, maxMs: this.#retryMaxMs });
  }

  #scheduleSetup(): void {
    if (this.#closing || this.#setupTimer !== undefined || this.#settingUp) return;
    const delay = this.#setupFailures === 0 ? 0 : this.#backoff(this.#setupFailures);
    this.#setupTimer = setTimeout(() => {
      this.#setupTimer = undefined;
      void this.#runSetup();
    }, delay);
  }

  async #runSetup(): Promise<void> {
    this.#settingUp = true;
    let failed = false;
    try {
      await this.#setup();
      this.#setupFailures = 0;
    } catch (err) {
      failed = true;
      this.#setupFailures++;
      if (!this.#closing) this.#logger.warn({ err }, 'consumer setup failed; retrying');
    } finally {
      this.#settingUp = false;
    }
    if (failed) this.#scheduleSetup();
  }

  async #setup(): Promise<void> {
    // A message redelivered on the new subscription must not run next to its first, still running, copy.
    while (this.#inFlight.size > 0) await Promise.allSettled(this.#inFlight);
    if (this.#closing) return;
    let ch = this.#ch;
    if (!ch?.active) {
      ch = await this.#deps.connection.acquire({ emitErrorsFromChannel: true });
      if (this.#closing) {
        await ch.close();
        return;
      }
      this.#watchChannel(ch);
    }
    await declareTopology(ch, queueTopology(this.#deps.queue, true));
    await ch.basicQos({ prefetchCount: this.#prefetch });
    const channel = ch;
    const { consumerTag } = await ch.basicConsume({ queue: this.queue, noAck: false }, (msg) =>
      this.#onMessage(channel, msg),
    );
    this.#consumerTag = consumerTag;
    if (this.#closing) await ch.basicCancel({ consumerTag }).catch(() => {});
    else this.#logger.info({ prefetch: this.#prefetch }, 'consuming');
  }

  #watchChannel(ch: Channel): void {
    keepRawBodies(ch);
    this.#ch = ch;
    ch.on('error', (err) => this.#logger.warn({ err }, 'consumer channel error'));
    ch.once('close', () => {
      if (this.#ch === ch) this.#ch = undefined;
      this.#consumerTag = '';
      if (this.#closing) return;
      this.#logger.warn('consumer channel closed; subscribing again');
      this.#scheduleSetup();
    });
    ch.on('basic.cancel', (tag: string) => {
      if (tag !== this.#consumerTag || this.#closing) return;
      this.#consumerTag = '';
      this.#logger.warn('consumer cancelled by the broker (queue deleted?); subscribing again');
      this.#scheduleSetup();
    });
  }

  #onMessage(ch: Channel, msg: AsyncMessage): void {
    // Delivered between our basic.cancel and its reply: put it back for the next run.
    if (this.#closing) {
      settle(ch, msg, 'requeue', this.#logger);
      return;
    }
    const job = this.#process(ch, msg)
      .catch((err) => this.#logger.error({ err }, 'message processing failed'))
      .finally(() => this.#inFlight.delete(job));
    this.#inFlight.add(job);
  }

  async #process(ch: Channel, msg: AsyncMessage): Promise<void> {
    let raw: Buffer;
    try {
      raw = restoreRawMessage(msg);
    } catch (err) {
      // Left unacknowledged on purpose: it stays with the broker and comes back after a reconnect.
      this.#logger.error({ err }, 'cannot read the raw message body; leaving it unacked');
      return;
    }
    const incoming = toIncoming(msg, raw);
    const outcome = await this.#retry(ch, msg, 'message handler', () => this.#handle(incoming));
    if (outcome === undefined) return;
    if (outcome !== 'ack') {
      const reason = outcome.deadLetter;
      const moved = await this.#retry(ch, msg, 'dead-letter publish', () =>
        this.#deadLetter(msg, raw, reason),
      );
      if (moved === undefined) return;
      this.#logger.warn(
        { reason, messageId: msg.messageId, bytes: raw.length, dlq: dlqName(this.queue) },
        'message moved to the dead-letter queue',
      );
      this.#deps.options.onDeadLetter?.(this.queue, reason);
    }
    settle(ch, msg, 'ack', this.#logger);
  }

  /**
   * Runs `attempt` until it succeeds, waiting longer after each failure, so a database outage neither
   * loses the message nor spins it through the queue. Gives up (undefined) when the consumer closes
   * (the message is requeued) or when the delivery's channel is gone (the broker redelivers it).
   * `attempt` must not resolve to undefined.
   */
  async #retry<T extends {}>(
    ch: Channel,
    msg: AsyncMessage,
    what: string,
    attempt: () => Promise<T>,
  ): Promise<T | undefined> {
    for (let failures = 0; ; ) {
      if (this.#closing) {
        settle(ch, msg, 'requeue', this.#logger);
        return undefined;
      }
      if (!ch.active) return undefined;
      try {
        return await attempt();
      } catch (err) {
        failures++;
        const retryInMs = this.#backoff(failures);
        this.#logger.warn({ err, failures, retryInMs }, `${what} failed; retrying`);
        await sleep(retryInMs, this.#stop.signal);
      }
    }
  }

  /**
   * The handler's outcome; a failure that says it will fail again the same way (the database refuses
   * the row for good) dead-letters the message instead of retrying it for ever.
   */
  async #handle(incoming: IncomingMessage): Promise<HandlerOutcome> {
    try {
      return await this.#deps.handler(incoming);
    } catch (err) {
      if (isRetryable(err)) throw err;
      this.#logger.error({ err }, 'message handler failed for good');
      return { deadLetter: `handler failed: ${errorMessage(err)}`.slice(0, 500) };
    }
  }

  async #deadLetter(msg: AsyncMessage, raw: Buffer, reason: string): Promise<true> {
    const dlq = dlqName(this.queue);
    // Declared with the topology, but a queue deleted by hand would make the broker drop the copy
    // silently (this publish cannot be matched to a basic.return), so make sure it exists; rare path.
    await this.#deps.connection.queueDeclare({ queue: dlq, durable: true });
    await this.#deps.publisher.publishRaw(deadLetterEnvelope(msg, dlq, reason), raw);
    return true;
  }
}

/**
 * The original message for `<queue>.dlq` via the default exchange: same body bytes, same properties,
 * original headers plus the reason. Three deliberate differences, all so the copy is never lost:
 * it is persistent, and it carries no `expiration` (it would expire in the dlq) nor `userId` (the
 * broker refuses a user-id that is not ours); those two are kept as `x-original-*` headers.
 */
function deadLetterEnvelope(msg: AsyncMessage, dlq: string, reason: string): Envelope {
  const headers: Record<string, unknown> = { ...msg.headers, [REJECT_REASON_HEADER]: reason };
  if (msg.expiration !== undefined) headers['x-original-expiration'] = msg.expiration;
  if (msg.userId !== undefined) headers['x-original-user-id'] = msg.userId;
  return {
    exchange: '',
    routingKey: dlq,
    durable: true,
    contentType: msg.contentType,
    contentEncoding: msg.contentEncoding,
    priority: msg.priority,
    correlationId: msg.correlationId,
    replyTo: msg.replyTo,
    messageId: msg.messageId,
    // Passed even when undefined: rabbitmq-client stamps "now" on a message that has no timestamp key.
    timestamp: msg.timestamp,
    type: msg.type,
    appId: msg.appId,
    clusterId: msg.clusterId,
    headers,
  };
}

function toIncoming(msg: AsyncMessage, raw: Buffer): IncomingMessage {
  const {
    body: _body,
    headers,
    consumerTag: _tag,
    deliveryTag: _deliveryTag,
    redelivered,
    exchange,
    routingKey,
    durable: _durable,
    ...properties
  } = msg;
  return {
    body: raw.toString('utf8'),
    raw,
    properties,
    headers: headers ?? {},
    exchange,
    routingKey,
    redelivered,
  };
}

function settle(ch: Channel, msg: AsyncMessage, how: 'ack' | 'requeue', logger: Logger): void {
  try {
    if (how === 'ack') ch.basicAck({ deliveryTag: msg.deliveryTag });
    else ch.basicNack({ deliveryTag: msg.deliveryTag, requeue: true });
  } catch (err) {
    // The channel is gone: the broker puts the message back by itself.
    logger.warn({ err, how }, 'could not settle message; the broker will redeliver it');
  }
}
