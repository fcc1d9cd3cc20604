import { type AnyDb, portable } from './portable.js';

/*
 * Withdrawals and payments. Frozen once released. A payout row moves through its states; every
 * transaction signed for it (the first and each replacement, all with the same nonce) is a row of
 * payout_txs, stored before it is broadcast; sender_nonces is the next nonce per wallet, taken under a
 * row lock.
 */

export async function up(db: AnyDb): Promise<void> {
  const { table, longText } = portable(db);

  await table('payouts')
    .addColumn('queue_id', 'varchar(191)', (c) => c.primaryKey())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('order_id', 'varchar(191)')
    .addColumn('chain', 'varchar(16)', (c) => c.notNull())
    .addColumn('symbol', 'varchar(16)', (c) => c.notNull())
    .addColumn('token_address', 'varchar(42)', (c) => c.notNull())
    .addColumn('from_address', 'varchar(42)', (c) => c.notNull())
    .addColumn('to_address', 'varchar(42)', (c) => c.notNull())
    .addColumn('amount_raw', 'varchar(80)', (c) => c.notNull())
    .addColumn('amount_text', 'varchar(100)', (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('sender', 'varchar(42)')
    .addColumn('nonce', 'bigint')
    .addColumn('gas_limit', 'varchar(40)')
    .addColumn('tx_hash', 'varchar(66)')
    .addColumn('last_sent_block', 'bigint')
    .addColumn('mined_block', 'bigint')
    .addColumn('mined_block_hash', 'varchar(66)')
    .addColumn('reverted', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('fee_wei', 'varchar(80)')
    .addColumn('error_code', 'varchar(32)')
    .addColumn('error_message', 'varchar(1000)')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('payouts_state_idx').on('payouts').columns(['state', 'created_at']).execute();
  await db.schema
    .createIndex('payouts_sender_state_idx')
    .on('payouts')
    .columns(['sender', 'state'])
    .execute();

  await table('payout_txs')
    .addColumn('tx_hash', 'varchar(66)', (c) => c.primaryKey())
    .addColumn('queue_id', 'varchar(191)', (c) => c.notNull())
    .addColumn('sender', 'varchar(42)', (c) => c.notNull())
    .addColumn('nonce', 'bigint', (c) => c.notNull())
    .addColumn('raw_tx', longText, (c) => c.notNull())
    .addColumn('max_fee_per_gas', 'varchar(40)')
    .addColumn('max_priority_fee_per_gas', 'varchar(40)')
    .addColumn('gas_price', 'varchar(40)')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('payout_txs_queue_idx').on('payout_txs').column('queue_id').execute();

  await table('sender_nonces')
    .addColumn('address', 'varchar(42)', (c) => c.primaryKey())
    .addColumn('next_nonce', 'bigint', (c) => c.notNull())
    .execute();
}
