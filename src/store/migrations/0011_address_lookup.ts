import type { AnyDb } from './portable.js';

/*
 * The status page's lookup by address (src/monitor/lookup.ts, readAddressActivity): a user's deposits by
 * recipient, and payouts by recipient or requested wallet, newest first. Without these indexes each
 * search would scan the whole deposits and payouts tables. (Payouts by `sender` use 0003's index.)
 * Frozen once released.
 */

const INDEXES = [
  { name: 'deposits_to_address_idx', table: 'deposits', columns: ['to_address', 'id'] },
  { name: 'payouts_to_address_idx', table: 'payouts', columns: ['to_address', 'created_at'] },
  { name: 'payouts_from_address_idx', table: 'payouts', columns: ['from_address', 'created_at'] },
] as const;

export async function up(db: AnyDb): Promise<void> {
  for (const { name, table, columns } of INDEXES) {
    await db.schema
      .createIndex(name)
      .on(table)
      .columns([...columns])
      .execute();
  }
}

export async function down(db: AnyDb): Promise<void> {
  for (const { name, table } of INDEXES) await db.schema.dropIndex(name).on(table).execute();
}
