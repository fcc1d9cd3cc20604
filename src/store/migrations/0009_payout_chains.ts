import { sql } from 'kysely';
import { driverOf } from '../dialect.js';
import { type AnyDb, mysqlCatalog, noPadCollation, portable, useNoPadCollation } from './portable.js';

/*
 * Payouts per chain: one payout engine runs per configured chain on the one database, and each must see
 * only its own chain's payouts, signed transactions and nonces. A wallet is an address and so serves
 * every EVM chain, with an independent nonce on each.
 *
 * - payouts.chain_name: the configured name of the chain (what the engine filters on; `chain` keeps the
 *   spelling the request used, echoed in the answer), with an index (chain_name, state, created_at) for
 *   the engine's reads.
 * - payout_txs.chain_name, and the nonce allocation's index (chain_name, sender, nonce) in place of
 *   (sender, nonce) from 0005.
 * - sender_nonces keyed by (chain_name, address): a new table, as SQLite cannot alter a primary key.
 *
 * Every existing row is `ETH`, the only chain served before. On MySQL, where DDL is not transactional,
 * each step is skipped when a run cut short already made it, so the migration can be run again.
 * Frozen once released.
 */

const NEW_NONCES = 'sender_nonces_by_chain';

export async function up(db: AnyDb): Promise<void> {
  const mysql = driverOf(db) === 'mysql';
  const { table } = portable(db);
  const has = mysql ? mysqlCatalog(db) : undefined;

  if (!(await has?.column('payouts', 'chain_name'))) {
    await db.schema
      .alterTable('payouts')
      .addColumn('chain_name', 'varchar(16)', (c) => c.notNull().defaultTo('ETH'))
      .execute();
  }
  if (!(await has?.index('payouts', 'payouts_chain_state_idx'))) {
    await db.schema
      .createIndex('payouts_chain_state_idx')
      .on('payouts')
      .columns(['chain_name', 'state', 'created_at'])
      .execute();
  }

  if (!(await has?.column('payout_txs', 'chain_name'))) {
    await db.schema
      .alterTable('payout_txs')
      .addColumn('chain_name', 'varchar(16)', (c) => c.notNull().defaultTo('ETH'))
      .execute();
  }
  if (!(await has?.index('payout_txs', 'payout_txs_chain_sender_nonce_idx'))) {
    await db.schema
      .createIndex('payout_txs_chain_sender_nonce_idx')
      .on('payout_txs')
      .columns(['chain_name', 'sender', 'nonce'])
      .execute();
  }
  if (!has || (await has.index('payout_txs', 'payout_txs_sender_nonce_idx'))) {
    await dropIndex(db, 'payout_txs_sender_nonce_idx', 'payout_txs');
  }

  // sender_nonces → (chain_name, address): made new, filled, swapped in. A run cut short after the old
  // table was dropped finds only the new one, and renames it.
  const oldExists = !has || (await has.table('sender_nonces'));
  const newExists = has ? await has.table(NEW_NONCES) : false;
  if (oldExists && (!has || !(await has.column('sender_nonces', 'chain_name')))) {
    if (newExists) await db.schema.dropTable(NEW_NONCES).execute();
    await table(NEW_NONCES)
      .addColumn('chain_name', 'varchar(16)', (c) => c.notNull())
      .addColumn('address', 'varchar(42)', (c) => c.notNull())
      .addColumn('next_nonce', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('sender_nonces_pk', ['chain_name', 'address'])
      .execute();
    if (mysql) await useNoPadCollation(db, NEW_NONCES, await noPadCollation(db));
    await db
      .insertInto(NEW_NONCES)
      .columns(['chain_name', 'address', 'next_nonce'])
      .expression(
        db.selectFrom('sender_nonces').select([sql.lit('ETH').as('chain_name'), 'address', 'next_nonce']),
      )
      .execute();
    await db.schema.dropTable('sender_nonces').execute();
    await db.schema.alterTable(NEW_NONCES).renameTo('sender_nonces').execute();
  } else if (!oldExists && newExists) {
    await db.schema.alterTable(NEW_NONCES).renameTo('sender_nonces').execute();
  }
}

export async function down(db: AnyDb): Promise<void> {
  const { table } = portable(db);
  await table('sender_nonces_single')
    .addColumn('address', 'varchar(42)', (c) => c.primaryKey())
    .addColumn('next_nonce', 'bigint', (c) => c.notNull())
    .execute();
  await db
    .insertInto('sender_nonces_single')
    .columns(['address', 'next_nonce'])
    .expression(
      db.selectFrom('sender_nonces').select(['address', 'next_nonce']).where('chain_name', '=', 'ETH'),
    )
    .execute();
  await db.schema.dropTable('sender_nonces').execute();
  await db.schema.alterTable('sender_nonces_single').renameTo('sender_nonces').execute();
  await db.schema
    .createIndex('payout_txs_sender_nonce_idx')
    .on('payout_txs')
    .columns(['sender', 'nonce'])
    .execute();
  await dropIndex(db, 'payout_txs_chain_sender_nonce_idx', 'payout_txs');
  await db.schema.alterTable('payout_txs').dropColumn('chain_name').execute();
  await dropIndex(db, 'payouts_chain_state_idx', 'payouts');
  await db.schema.alterTable('payouts').dropColumn('chain_name').execute();
}

/** DROP INDEX: MySQL names the table (`on`), which SQLite's syntax does not allow. */
async function dropIndex(db: AnyDb, index: string, table: string): Promise<void> {
  const drop = db.schema.dropIndex(index);
  await (driverOf(db) === 'mysql' ? drop.on(table) : drop).execute();
}
