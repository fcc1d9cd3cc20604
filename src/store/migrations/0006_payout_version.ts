import type { AnyDb } from './portable.js';

/*
 * A version on each payout, raised by every write of its state: a conditional move compares it, so a
 * worker acting on an old read (the payout since re-signed, say) moves nothing. Frozen once released.
 */

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .alterTable('payouts')
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.alterTable('payouts').dropColumn('version').execute();
}
