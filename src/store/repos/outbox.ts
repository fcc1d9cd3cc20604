import { chunks } from '../../internal/options.js';
import type { Db, OutboxRow } from '../schema.js';

/**
 * `outbox`: every answer to the business, written in the transaction of the change that causes it and
 * published from here by the relay (src/outbox/relay.ts).
 */

export interface OutboxMessage {
  /** What the message answers: 'topup' | 'withdraw' | 'pay'. */
  topic: string;
  exchange: string;
  routingKey: string;
  /** The exact JSON text to publish. */
  body: string;
  /**
   * What the message is about: `deposit:<tx hash>:<log ordinal>`, `<kind>:<queue_id>`. The relay never
   * lets a row go out before an earlier row of the same subject; omit it for an answer that stands alone.
   */
  subject?: string | undefined;
}

/**
 * Writes answers inside the caller's transaction, so they exist exactly when the state change that
 * causes them is committed. Call the relay's `notify()` after the commit.
 */
export async function enqueueOutbox(
  db: Db,
  messages: readonly OutboxMessage[],
  now = Date.now(),
): Promise<void> {
  for (const slice of chunks(messages)) {
    await db
      .insertInto('outbox')
      .values(
        slice.map((m) => ({
          topic: m.topic,
          exchange: m.exchange,
          routing_key: m.routingKey,
          body: m.body,
          subject: m.subject ?? null,
          created_at: now,
          sent_at: null,
        })),
      )
      .execute();
  }
}

/**
 * The oldest rows not yet published, in id order. By `sent_at IS NULL`, never by an id cursor, so a row
 * of a transaction that committed after a later id was sent is still found.
 */
export async function unsentOutbox(
  db: Db,
  limit: number,
): Promise<Pick<OutboxRow, 'id' | 'exchange' | 'routing_key' | 'body' | 'subject'>[]> {
  return db
    .selectFrom('outbox')
    .select(['id', 'exchange', 'routing_key', 'body', 'subject'])
    .where('sent_at', 'is', null)
    .orderBy('id')
    .limit(limit)
    .execute();
}

export async function markOutboxSent(db: Db, ids: readonly number[], now = Date.now()): Promise<void> {
  for (const slice of chunks(ids)) {
    await db.updateTable('outbox').set({ sent_at: now }).where('id', 'in', slice).execute();
  }
}

/** Rows not yet published. */
export async function countUnsentOutbox(db: Db): Promise<number> {
  const row = await db
    .selectFrom('outbox')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('sent_at', 'is', null)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
