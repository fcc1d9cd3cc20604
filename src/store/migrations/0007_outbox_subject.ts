import type { AnyDb } from './portable.js';

/*
 * What an outbox row is about, so the relay keeps each subject's answers in order (PROTOCOL §11.2): a
 * deposit's `deposit:<tx hash>:<log ordinal>`, a payout's `<kind>:<queue_id>`. Null on rows written
 * before this migration and on answers that stand alone (a refused topup). Frozen once released.
 */

export async function up(db: AnyDb): Promise<void> {
  await db.schema.alterTable('outbox').addColumn('subject', 'varchar(255)').execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.alterTable('outbox').dropColumn('subject').execute();
}
