import { EventEmitter } from 'node:events';
import { AMQPConnectionError, Connection } from 'rabbitmq-client';
import type { Config, QueueConfig } from '../config/types.js';
import { backoffMs, defaultBackoff } from '../internal/backoff.js';
import { sleep } from '../internal/errors.js';
import type { Logger } from '../internal/logger.js';
import { defaultOptions } from '../internal/options.js';
import { type ConsumerOptions, type MessageHandler, QueueConsumer } from './consumer.js';
import { type ConfirmedPublisher, createConfirmedPublisher } from './publisher.js';
import { declareTopology, describeTopology } from './topology.js';

export interface BrokerOptions {
  rmq: Config['rmq'];
  /** Overrides `rmq.url` (tests connect through a TCP proxy they own). */
  url?: string;
  /** Reconnect backoff: step and ceiling. Default 500 / 10000 ms. */
  retryLowMs?: number;
  retryHighMs?: number;
  /** Seconds; two missed heartbeats mean the connection is dead. Default 10. */
  heartbeatS?: number;
}

export interface Consumer {
  readonly queue: string;
  /** Messages being handled now (at most the prefetch), for metrics. */
  inFlight(): number;
  /** Stop taking messages and wait for running handlers. */
  close(): Promise<void>;
}

export interface Broker {
  /** Connected, and the topology declared on this connection (for /ready). */
  isConnected(): boolean;
  /** Resolves true once `isConnected()`, false after `timeoutMs`. */
  waitReady(timeoutMs: number): Promise<boolean>;
  /** Called each time the connection is (re)established and the topology declared; returns unsubscribe. */
  onConnected(listener: () => void): () => void;
  publish: ConfirmedPublisher['publish'];
  createConsumer(queue: QueueConfig, handler: MessageHandler, options?: ConsumerOptions): Consumer;
  /** Messages ready in `queue` (a passive declare), or undefined while disconnected (metrics). */
  queueDepth(queue: string): Promise<number | undefined>;
  /** Closes the consumers still open (waiting for their handlers), the publisher, the connection. */
  close(): Promise<void>;
}

const CLOSE_TIMEOUT_MS = 10_000;

/** One RabbitMQ connection that reconnects with backoff and declares the whole topology each time. */
export function createBroker(common: { logger: Logger }, options: BrokerOptions): Broker {
  const logger = common.logger.child({ component: 'amqp' });
  const topology = describeTopology(options.rmq);
  const events = new EventEmitter();
  const consumers = new Set<QueueConsumer>();
  let topologyDeclared = false;
  let declaring = false;
  let closing = false;
  // Wakes the waits below when the broker closes, so no timer keeps the process alive.
  const closed = new AbortController();

  const connection = new Connection({
    url: options.url ?? options.rmq.url,
    retryLow: options.retryLowMs ?? defaultBackoff.firstMs,
    retryHigh: options.retryHighMs ?? defaultBackoff.maxMs,
    heartbeat: options.heartbeatS ?? defaultOptions.broker.heartbeatS,
    connectionName: 'm2pool-payment',
  });

  // rabbitmq-client reports only the first failure of an outage (it suppresses the rest while it
  // retries); channel errors of its Publisher land here too. An unhandled 'error' would crash us.
  connection.on('error', (err) => {
    if (err instanceof AMQPConnectionError || !connection.ready) {
      logger.warn({ err }, 'broker connection down; reconnecting');
    } else {
      logger.warn({ err }, 'broker channel error');
    }
  });
  connection.on('connection', () => {
    logger.info('broker connected');
    topologyDeclared = false;
    void declareAll();
  });
  connection.on('connection.blocked', (reason) => logger.warn({ reason }, 'broker blocked publishing'));
  connection.on('connection.unblocked', () => logger.info('broker unblocked publishing'));

  // Consumers and the publisher declare their own part on each new channel; this declares all of it
  // (the response queues and the .dlq queues too) as soon as a connection is up, before anything is
  // published, and again whenever a message comes back unroutable.
  async function declareAll(): Promise<void> {
    if (declaring) return;
    declaring = true;
    try {
      for (let failures = 0; connection.ready && !closing; failures++) {
        try {
          const ch = await connection.acquire();
          try {
            await declareTopology(ch, topology);
          } finally {
            await ch.close().catch(() => {});
          }
          topologyDeclared = true;
          logger.info(
            { queues: topology.queues.length, exchanges: topology.exchanges.length },
            'topology declared',
          );
          events.emit('connected');
          return;
        } catch (err) {
          logger.error({ err }, 'declaring the topology failed; retrying');
          await sleep(backoffMs(failures + 1), closed.signal);
        }
      }
    } finally {
      declaring = false;
    }
  }

  const publisher = createConfirmedPublisher(
    { logger },
    {
      connection,
      topology,
      onUnroutable: () => void declareAll(),
    },
  );

  function isConnected(): boolean {
    return connection.ready && topologyDeclared;
  }

  function onConnected(listener: () => void): () => void {
    events.on('connected', listener);
    return () => events.off('connected', listener);
  }

  async function waitReady(timeoutMs: number): Promise<boolean> {
    if (isConnected()) return true;
    const done = new AbortController();
    let off = (): void => {};
    const ready = new Promise<void>((resolve) => {
      off = onConnected(resolve);
    });
    await Promise.race([ready, sleep(timeoutMs, AbortSignal.any([done.signal, closed.signal]))]);
    done.abort();
    off();
    return isConnected();
  }

  function createConsumer(
    queue: QueueConfig,
    handler: MessageHandler,
    consumerOptions: ConsumerOptions = {},
  ) {
    const consumer = new QueueConsumer(
      { logger },
      { connection, publisher, queue, handler, options: consumerOptions },
    );
    consumers.add(consumer);
    consumer.start();
    return {
      queue: consumer.queue,
      inFlight: () => consumer.inFlight,
      close: async () => {
        await consumer.close();
        consumers.delete(consumer);
      },
    };
  }

  async function queueDepth(queue: string): Promise<number | undefined> {
    if (!isConnected() || closing) return undefined;
    // Passive: never creates the queue; a missing one fails only the shared lazy channel.
    const ok = await connection.queueDeclare({ queue, passive: true });
    return ok.messageCount;
  }

  async function close(): Promise<void> {
    if (closing) return;
    closing = true;
    await Promise.allSettled([...consumers].map((c) => c.close()));
    closed.abort();
    // Both at once: while reconnecting, the publisher's close waits for a channel that only the
    // connection's close gives up on; when connected, the connection's close waits for the
    // publisher's channel. And do not let a stuck channel hang shutdown.
    const done = Promise.allSettled([publisher.close(), connection.close()]).then(() => true);
    const timer = new AbortController();
    const inTime = await Promise.race([done, sleep(CLOSE_TIMEOUT_MS, timer.signal).then(() => false)]);
    timer.abort();
    if (!inTime) connection.unsafeDestroy();
    events.removeAllListeners();
    logger.info('broker connection closed');
  }

  return {
    isConnected,
    waitReady,
    onConnected,
    publish: publisher.publish,
    createConsumer,
    queueDepth,
    close,
  };
}
