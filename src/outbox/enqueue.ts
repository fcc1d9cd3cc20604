import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.js';

export interface OutboxMessage {
  /** What the message answers: 'topup' | 'withdraw' | 'pay'. */
  topic: string;
  exchange: string;
  routingKey: string;
  /** The exact JSON text to publish. */
  body: string;
}

/**
 * Writes responses into the outbox inside the caller's transaction, so they exist exactly when the
 * state change that causes them is committed. Call the relay's `notify()` after the commit.
 */
export async function enqueueOutbox(
  trx: Kysely<Database> | Transaction<Database>,
  messages: OutboxMessage[],
): Promise<void> {
  if (messages.length === 0) return;
  const now = Date.now();
  await trx
    .insertInto('outbox')
    .values(
      messages.map((m) => ({
        topic: m.topic,
        exchange: m.exchange,
        routing_key: m.routingKey,
        body: m.body,
        created_at: now,
        sent_at: null,
      })),
    )
    .execute();
}
