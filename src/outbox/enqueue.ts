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

/** Rows per statement: one statement for all would pass SQLite's 32,766 and MySQL's 65,535 placeholders. */
const ROWS_PER_INSERT = 500;

/**
 * Writes responses into the outbox inside the caller's transaction, so they exist exactly when the
 * state change that causes them is committed. Call the relay's `notify()` after the commit.
 */
export async function enqueueOutbox(
  trx: Kysely<Database> | Transaction<Database>,
  messages: OutboxMessage[],
): Promise<void> {
  const now = Date.now();
  for (let i = 0; i < messages.length; i += ROWS_PER_INSERT) {
    await trx
      .insertInto('outbox')
      .values(
        messages.slice(i, i + ROWS_PER_INSERT).map((m) => ({
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
}
