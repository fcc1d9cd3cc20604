import { type AnyDb, noPadCollation, portable, useNoPadCollation } from './portable.js';

/*
 * HD deposit wallets (issue 12). Frozen once released.
 *
 * - hd_roots: the BIP-39 seed, encrypted under PAYMENT_MASTER_KEY (`v1:` form of src/vault/crypto.ts,
 *   bound to `first_address`, the public address at index 0). One row, `name` 'default', written once by
 *   `wallet init-hd`. Never a mnemonic, never a plaintext seed.
 * - issued_addresses: one deposit address per business user: the index it was derived at. Its key is
 *   derived from the seed only to sign, never stored. Each column is unique.
 */

export async function up(db: AnyDb): Promise<void> {
  const { table, mysql } = portable(db);
  const collation = mysql ? await noPadCollation(db) : '';

  await table('hd_roots')
    .ifNotExists()
    .addColumn('name', 'varchar(16)', (c) => c.primaryKey())
    .addColumn('encrypted_seed', 'varchar(255)', (c) => c.notNull())
    .addColumn('first_address', 'varchar(42)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await useNoPadCollation(db, 'hd_roots', collation);

  await table('issued_addresses')
    .ifNotExists()
    .addColumn('hd_index', 'bigint', (c) => c.primaryKey())
    .addColumn('user_ref', 'varchar(191)', (c) => c.notNull().unique())
    .addColumn('address', 'varchar(42)', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await useNoPadCollation(db, 'issued_addresses', collation);
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropTable('issued_addresses').execute();
  await db.schema.dropTable('hd_roots').execute();
}
