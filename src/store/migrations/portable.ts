import { type CreateTableBuilder, type Kysely, type RawBuilder, sql } from 'kysely';
import { driverOf } from '../dialect.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their own time
export type AnyDb = Kysely<any>;

/**
 * The types and table options every migration uses, the same on both drivers. Released migrations depend
 * on this, so it must never change what it produces: a new need gets a new helper.
 */
export function portable(db: AnyDb) {
  const mysql = driverOf(db) === 'mysql';
  return {
    mysql,
    /**
     * CREATE TABLE; on MySQL InnoDB with a binary collation. `utf8mb4_bin` pads with spaces (`'w1' = 'w1 '`),
     * so a table made with it must then go through `useNoPadCollation` to compare exactly like SQLite
     * (0008 converted the tables made before it).
     */
    table(name: string): CreateTableBuilder<string> {
      const builder = db.schema.createTable(name);
      return mysql
        ? builder.modifyEnd(sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin`)
        : builder;
    },
    /** Auto-increment id (AUTOINCREMENT on SQLite never reuses an id, even of a deleted row). */
    idType: mysql ? ('bigint' as const) : ('integer' as const),
    /** Text longer than MySQL's TEXT (64 KB). */
    longText: mysql ? sql`mediumtext` : sql`text`,
  };
}

/**
 * The binary collation of MySQL/MariaDB that does not pad with spaces, so that `'w1'` and `'w1 '` are two
 * keys, as on SQLite: `utf8mb4_nopad_bin` on MariaDB (10.2 and later), `utf8mb4_0900_bin` on MySQL
 * (8.0.17 and later). Picked by `SELECT VERSION()`.
 */
export async function noPadCollation(db: AnyDb): Promise<string> {
  const { rows } = await sql<{ v: string }>`select version() as v`.execute(db);
  return /mariadb/i.test(rows[0]?.v ?? '') ? 'utf8mb4_nopad_bin' : 'utf8mb4_0900_bin';
}

/**
 * On MySQL, every text column of `table`, and its default, to `noPadCollation` (keys stay what they
 * are: text with trailing spaces could not have two rows under the padding collation). Rebuilds the
 * table. Nothing on SQLite, which compares bytes.
 */
export async function useNoPadCollation(db: AnyDb, table: string, collation: string): Promise<void> {
  if (driverOf(db) !== 'mysql') return;
  await sql`alter table ${sql.table(table)} convert to character set utf8mb4 collate ${sql.raw(collation)}`.execute(
    db,
  );
}

/**
 * What MySQL's catalog holds of this database: a migration there is not one transaction (DDL commits at
 * once), so each step asks whether a run cut short already made it, and the migration can run again.
 */
export function mysqlCatalog(db: AnyDb) {
  const count = async (query: RawBuilder<{ n: number | string }>) =>
    Number((await query.execute(db)).rows[0]?.n ?? 0) > 0;
  return {
    table: (name: string) =>
      count(sql<{ n: number | string }>`select count(*) as n from information_schema.tables
        where table_schema = database() and table_name = ${name}`),
    column: (tableName: string, column: string) =>
      count(sql<{ n: number | string }>`select count(*) as n from information_schema.columns
        where table_schema = database() and table_name = ${tableName} and column_name = ${column}`),
    index: (tableName: string, index: string) =>
      count(sql<{ n: number | string }>`select count(*) as n from information_schema.statistics
        where table_schema = database() and table_name = ${tableName} and index_name = ${index}`),
  };
}
