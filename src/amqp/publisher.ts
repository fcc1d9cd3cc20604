import { randomUUID } from 'node:crypto';
import type { Connection, Envelope, ReturnedMessage } from 'rabbitmq-client';
import { PaymentError } from '../internal/errors.js';
import type { Logger } from '../internal/logger.js';
import type { Topology } from './topology.js';

export interface PublishOptions {
  headers?: Record<string, unknown>;
  /** AMQP message-id. The outbox passes one derived from the row, so a rare second copy (crash between
   * confirm and mark) carries the same id as the first. Default: a random UUID. */
  messageId?: string;
}

export interface ConfirmedPublisher {
  /** Persistent, mandatory, `application/json`; resolves once the broker confirmed it, rejects on a
   * nack, a lost connection, or when no queue took the message (code `amqp_unroutable`). */
  publish(exchange: string, routingKey: string, body: string, options?: PublishOptions): Promise<void>;
  /** Publishes `body` as it is with exactly the given properties (used to move a message to a `.dlq`). */
  publishRaw(envelope: Envelope, body: Buffer): Promise<void>;
  close(): Promise<void>;
}

export function createConfirmedPublisher(
  common: { logger: Logger },
  deps: { connection: Connection; topology: Topology; onUnroutable: () => void },
): ConfirmedPublisher {
  const { logger } = common;
  const { topology } = deps;
  const publisher = deps.connection.createPublisher({
    confirm: true,
    // rabbitmq-client can retry a failed publish by itself, but a retried message may land after
    // messages published later; callers (the outbox relay) retry in their own order instead.
    maxAttempts: 1,
    // Declared on every new publisher channel, so also after each reconnect.
    exchanges: topology.exchanges.map((exchange) => ({ exchange, type: 'direct', durable: true })),
    queues: topology.queues.map((queue) => ({ queue, durable: true })),
    queueBindings: topology.bindings,
  });

  // Message ids awaiting a confirm, and those among them that came back unroutable.
  const awaiting = new Set<string>();
  const returned = new Set<string>();
  publisher.on('basic.return', (msg: ReturnedMessage) => {
    logger.warn(
      {
        exchange: msg.exchange,
        routingKey: msg.routingKey,
        replyText: msg.replyText,
        messageId: msg.messageId,
      },
      'message returned unroutable; re-declaring topology',
    );
    if (msg.messageId !== undefined && awaiting.has(msg.messageId)) returned.add(msg.messageId);
    deps.onUnroutable();
  });

  async function publish(exchange: string, routingKey: string, body: string, options: PublishOptions = {}) {
    const messageId = options.messageId ?? randomUUID();
    awaiting.add(messageId);
    try {
      await publisher.send(
        {
          exchange,
          routingKey,
          // Without `mandatory` a message that no queue takes (a response queue deleted by hand) is
          // dropped by the broker and still confirmed: it would be lost while looking sent.
          mandatory: true,
          durable: true,
          contentType: 'application/json',
          messageId,
          headers: options.headers,
        },
        Buffer.from(body, 'utf8'),
      );
      // The broker sends basic.return before the ack, but rabbitmq-client emits the return event in
      // a setImmediate while the ack resolves our promise at once: wait one turn to see the return.
      await new Promise((resolve) => setImmediate(resolve));
      if (returned.has(messageId)) {
        throw new PaymentError('amqp_unroutable', `no queue is bound to ${exchange} / ${routingKey}`, {
          retryable: true,
        });
      }
    } finally {
      awaiting.delete(messageId);
      returned.delete(messageId);
    }
  }

  return {
    publish,
    publishRaw: (envelope, body) => publisher.send(envelope, body),
    close: () => publisher.close(),
  };
}
