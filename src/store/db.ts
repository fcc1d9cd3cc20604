import { Kysely, sql } from 'kysely';
import type { DbConfig } from '../config/types.js';
import type { Logger } from '../internal/logger.js';
import type { DbDriver } from './dialect.js';
import { createMysqlDialect } from './mysql.js';
import type { Database } from './schema.js';
import { createSqliteParts } from './sqlite.js';

export interface DatabaseHandle {
  db: Kysely<Database>;
  driver: DbDriver;
  /** Ends the pool / closes the file; safe to call more than once. */
  close(): Promise<void>;
  /** Resolves when the database answers a trivial query (readiness checks). */
  ping(): Promise<void>;
}

/**
 * Opens the configured database. On MySQL the database is created first when missing, so this
 * needs the server up; on SQLite the file and its folder are created. Run `migrateToLatest` next.
 */
export async function createDatabase(config: DbConfig, logger?: Logger): Promise<DatabaseHandle> {
  let db: Kysely<Database>;
  if (config.driver === 'mysql') {
    db = new Kysely<Database>({ dialect: await createMysqlDialect(config, logger) });
  } else {
    const { dialect, plugins } = createSqliteParts(config, logger);
    db = new Kysely<Database>({ dialect, plugins });
  }
  let closing: Promise<void> | undefined;
  return {
    db,
    driver: config.driver,
    close() {
      closing ??= db.destroy();
      return closing;
    },
    async ping() {
      await sql`select 1`.execute(db);
    },
  };
}
