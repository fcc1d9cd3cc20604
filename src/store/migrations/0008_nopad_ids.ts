import { sql } from 'kysely';
import { driverOf } from '../dialect.js';
import { type AnyDb, noPadCollation, useNoPadCollation } from './portable.js';

/*
 * Ids compared exactly on MySQL too. The tables were made with `utf8mb4_bin`, a PAD SPACE collation:
 * MySQL/MariaDB ignore trailing spaces in comparisons and unique keys, so the queue_ids `"w1"` and
 * `"w1 "` were one payout there and two on SQLite. Every table of the service (payouts.queue_id and
 * order_id, payout_txs.queue_id, audit_log.ref, outbox, …), and the database's default for tables made
 * later without one, move to the binary collation that does not pad. The change can only split keys
 * that were equal, never merge two, so it cannot fail on existing rows. Nothing to do on SQLite, which
 * compares bytes. Each table is rebuilt once (a table already converted is skipped, so a run cut short
 * can be run again). Frozen once released.
 */

export async function up(db: AnyDb): Promise<void> {
  if (driverOf(db) !== 'mysql') return;
  const collation = await noPadCollation(db);
  const { rows } = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = database() and table_type = 'BASE TABLE'
      and table_collation <> ${collation} and table_name not like 'kysely\\_%'
    order by table_name`.execute(db);
  for (const { name } of rows) await useNoPadCollation(db, name, collation);
  await sql`alter database collate ${sql.raw(collation)}`.execute(db);
}

export async function down(db: AnyDb): Promise<void> {
  if (driverOf(db) !== 'mysql') return;
  const { rows } = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = database() and table_type = 'BASE TABLE' and table_name not like 'kysely\\_%'`.execute(
    db,
  );
  for (const { name } of rows) {
    await sql`alter table ${sql.table(name)} convert to character set utf8mb4 collate utf8mb4_bin`.execute(
      db,
    );
  }
  await sql`alter database collate utf8mb4_bin`.execute(db);
}
