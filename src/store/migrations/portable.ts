import { type CreateTableBuilder, type Kysely, sql } from 'kysely';
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
    /** CREATE TABLE; on MySQL InnoDB with a binary collation, which compares exactly like SQLite (all stored text is lowercase). */
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
