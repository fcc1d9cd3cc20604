import { type AnyDb, noPadCollation, portable, useNoPadCollation } from './portable.js';

/*
 * Several instances on one database (issue 13). Frozen once released.
 *
 * - instances: one row per running service process, its heartbeat written every second or two. What the
 *   status page lists; a row whose heartbeat stopped is a dead instance (removed at a clean stop).
 * - leases: one row per named piece of work only one instance may do at a time (`watcher:ETH`, `relay`):
 *   who holds it, until when (database time, unix ms), and the fencing token, raised at each new holder.
 */

export async function up(db: AnyDb): Promise<void> {
  const { table, mysql } = portable(db);
  const collation = mysql ? await noPadCollation(db) : '';

  await table('instances')
    .ifNotExists()
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('host', 'varchar(255)', (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('http_addr', 'varchar(255)')
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
    .execute();
  await useNoPadCollation(db, 'instances', collation);

  await table('leases')
    .ifNotExists()
    .addColumn('name', 'varchar(191)', (c) => c.primaryKey())
    .addColumn('holder', 'varchar(64)')
    .addColumn('token', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('acquired_at', 'bigint', (c) => c.notNull())
    .execute();
  await useNoPadCollation(db, 'leases', collation);
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropTable('leases').execute();
  await db.schema.dropTable('instances').execute();
}
