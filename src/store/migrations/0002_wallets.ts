import { type AnyDb, portable } from './portable.js';

/*
 * Frozen once released. The key vault: one row per address, the private key encrypted under
 * PAYMENT_MASTER_KEY (see src/vault/crypto.ts for the `encrypted_key` format). Nothing here is a
 * plaintext key.
 */

export async function up(db: AnyDb): Promise<void> {
  const { table } = portable(db);

  await table('wallets')
    .addColumn('address', 'varchar(42)', (c) => c.primaryKey())
    .addColumn('encrypted_key', 'varchar(255)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropTable('wallets').execute();
}
