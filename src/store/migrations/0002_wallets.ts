import { type CreateTableBuilder, type Kysely, sql } from 'kysely';
import { driverOf } from '../dialect.js';

/*
 * Frozen once released. The key vault: one row per address, the private key encrypted under
 * PAYMENT_MASTER_KEY (see src/vault/crypto.ts for the `encrypted_key` format). Nothing here is a
 * plaintext key.
 */

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their own time
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  const mysql = driverOf(db) === 'mysql';
  // Same table options as 0001 (kept here so a released migration never changes under us).
  const table = (name: string): CreateTableBuilder<string> => {
    const builder = db.schema.createTable(name);
    return mysql
      ? builder.modifyEnd(sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin`)
      : builder;
  };

  await table('wallets')
    .addColumn('address', 'varchar(42)', (c) => c.primaryKey())
    .addColumn('encrypted_key', 'varchar(255)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropTable('wallets').execute();
}
