import { type AnyDb, portable } from './portable.js';

/*
 * Frozen once released: later changes go in new migrations. Block numbers and unix-ms times are
 * BIGINT; amounts are decimal strings (a uint256 has at most 78 digits).
 */

export async function up(db: AnyDb): Promise<void> {
  const { table, idType, longText } = portable(db);

  await table('watched_addresses')
    .addColumn('chain', 'varchar(16)', (c) => c.notNull())
    .addColumn('symbol', 'varchar(16)', (c) => c.notNull())
    .addColumn('address', 'varchar(42)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('watched_addresses_pk', ['chain', 'symbol', 'address'])
    .execute();

  await table('deposits')
    .addColumn('id', idType, (c) => c.primaryKey().autoIncrement())
    .addColumn('chain', 'varchar(16)', (c) => c.notNull())
    .addColumn('symbol', 'varchar(16)', (c) => c.notNull())
    .addColumn('token_address', 'varchar(42)', (c) => c.notNull())
    .addColumn('tx_hash', 'varchar(66)', (c) => c.notNull())
    .addColumn('tx_log_ordinal', 'integer', (c) => c.notNull())
    .addColumn('log_index', 'integer', (c) => c.notNull())
    .addColumn('block_number', 'bigint', (c) => c.notNull())
    .addColumn('block_hash', 'varchar(66)', (c) => c.notNull())
    .addColumn('from_address', 'varchar(42)', (c) => c.notNull())
    .addColumn('to_address', 'varchar(42)', (c) => c.notNull())
    .addColumn('amount_raw', 'varchar(80)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('orphaned_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('deposits_transfer_uq', ['chain', 'tx_hash', 'tx_log_ordinal'])
    .execute();
  await db.schema
    .createIndex('deposits_chain_status_block_idx')
    .on('deposits')
    .columns(['chain', 'status', 'block_number'])
    .execute();
  await db.schema.createIndex('deposits_tx_hash_idx').on('deposits').column('tx_hash').execute();

  await table('chain_blocks')
    .addColumn('chain', 'varchar(16)', (c) => c.notNull())
    .addColumn('number', 'bigint', (c) => c.notNull())
    .addColumn('hash', 'varchar(66)', (c) => c.notNull())
    .addColumn('parent_hash', 'varchar(66)', (c) => c.notNull())
    .addPrimaryKeyConstraint('chain_blocks_pk', ['chain', 'number'])
    .execute();

  await table('outbox')
    .addColumn('id', idType, (c) => c.primaryKey().autoIncrement())
    .addColumn('topic', 'varchar(16)', (c) => c.notNull())
    .addColumn('exchange', 'varchar(255)', (c) => c.notNull())
    .addColumn('routing_key', 'varchar(255)', (c) => c.notNull())
    .addColumn('body', longText, (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('sent_at', 'bigint')
    .execute();
  // The relay's query: unsent rows in id order.
  await db.schema.createIndex('outbox_unsent_idx').on('outbox').columns(['sent_at', 'id']).execute();
}

export async function down(db: AnyDb): Promise<void> {
  for (const name of ['outbox', 'chain_blocks', 'deposits', 'watched_addresses']) {
    await db.schema.dropTable(name).execute();
  }
}
