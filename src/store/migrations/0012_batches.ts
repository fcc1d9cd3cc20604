import { driverOf } from '../dialect.js';
import { type AnyDb, mysqlCatalog } from './portable.js';

/*
 * Batch payouts (docs/ARCHITECTURE.md, PROTOCOL §2.13): many withdrawals paid by the collection wallet in
 * one transaction to the project's batcher contract.
 *
 * - payouts.call_data: the exact calldata of a payout that is a contract call of the service's own (a
 *   batch's `batchTransfer`, a token `approve`); null for a plain transfer, whose call follows from its
 *   token, recipient and amount.
 * - payouts.batch_id: on a withdrawal or payment, the queue_id of the batch payout that carries it; with
 *   an index, as the batch's settlement reads its members by it.
 *
 * On MySQL each step is skipped when a run cut short already made it. Frozen once released.
 */

export async function up(db: AnyDb): Promise<void> {
  const has = driverOf(db) === 'mysql' ? mysqlCatalog(db) : undefined;
  if (!(await has?.column('payouts', 'call_data'))) {
    await db.schema.alterTable('payouts').addColumn('call_data', 'text').execute();
  }
  if (!(await has?.column('payouts', 'batch_id'))) {
    await db.schema.alterTable('payouts').addColumn('batch_id', 'varchar(191)').execute();
  }
  if (!(await has?.index('payouts', 'payouts_batch_idx'))) {
    await db.schema.createIndex('payouts_batch_idx').on('payouts').column('batch_id').execute();
  }
}

export async function down(db: AnyDb): Promise<void> {
  const drop = db.schema.dropIndex('payouts_batch_idx');
  await (driverOf(db) === 'mysql' ? drop.on('payouts') : drop).execute();
  await db.schema.alterTable('payouts').dropColumn('batch_id').execute();
  await db.schema.alterTable('payouts').dropColumn('call_data').execute();
}
