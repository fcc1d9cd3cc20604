import { type AnyDb, portable } from './portable.js';

/*
 * The audit trail: one row per state change of a deposit or a payout, written in the transaction of
 * the change. Append-only: the code has an insert and reads, no update or delete. Frozen once
 * released.
 */

export async function up(db: AnyDb): Promise<void> {
  const { table, idType } = portable(db);
  // As outbox ids: AUTOINCREMENT on SQLite never reuses an id, so id order is the order of writing.

  await table('audit_log')
    .addColumn('id', idType, (c) => c.primaryKey().autoIncrement())
    .addColumn('subject', 'varchar(16)', (c) => c.notNull())
    // A payout's queue_id (up to 191), or a deposit's `tx_hash:tx_log_ordinal`.
    .addColumn('ref', 'varchar(191)', (c) => c.notNull())
    .addColumn('tx_hash', 'varchar(66)')
    .addColumn('from_state', 'varchar(16)')
    .addColumn('to_state', 'varchar(16)', (c) => c.notNull())
    .addColumn('block_number', 'bigint')
    .addColumn('detail', 'varchar(1000)')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  // One subject's history in order; and every entry of a transaction hash.
  await db.schema.createIndex('audit_log_ref_idx').on('audit_log').columns(['ref', 'id']).execute();
  await db.schema.createIndex('audit_log_tx_hash_idx').on('audit_log').column('tx_hash').execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropTable('audit_log').execute();
}
