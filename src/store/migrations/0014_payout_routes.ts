import { sql } from 'kysely';
import { driverOf } from '../dialect.js';
import { type AnyDb, mysqlCatalog } from './portable.js';

/*
 * Payouts claimed per (chain, wallet) (issue 13, src/payouts/claims.ts). Frozen once released.
 *
 * - payouts.route: the wallet whose sender lease (`sender:<CHAIN>:<wallet>`) owns the payout: the
 *   instance holding that lease is the only one that signs, sends and follows it. Null until an engine
 *   routes it (the requested wallet when the vault holds it, else the collection wallet); a payout the
 *   requested wallet cannot pay is routed on to the collection wallet before anything is signed.
 * - index (chain_name, state, route): each instance reads only the payouts of the wallets it holds, and
 *   the wallets with work are read from the index alone.
 *
 * Payouts already signed keep the wallet that signed them. On MySQL each step is skipped when a run cut
 * short already made it.
 */

export async function up(db: AnyDb): Promise<void> {
  const has = driverOf(db) === 'mysql' ? mysqlCatalog(db) : undefined;
  if (!(await has?.column('payouts', 'route'))) {
    await db.schema.alterTable('payouts').addColumn('route', 'varchar(42)').execute();
  }
  await sql`update payouts set route = sender where route is null and sender is not null`.execute(db);
  if (!(await has?.index('payouts', 'payouts_route_idx'))) {
    await db.schema
      .createIndex('payouts_route_idx')
      .on('payouts')
      .columns(['chain_name', 'state', 'route'])
      .execute();
  }
}

export async function down(db: AnyDb): Promise<void> {
  const drop = db.schema.dropIndex('payouts_route_idx');
  await (driverOf(db) === 'mysql' ? drop.on('payouts') : drop).execute();
  await db.schema.alterTable('payouts').dropColumn('route').execute();
}
