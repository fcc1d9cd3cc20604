import { MysqlAdapter, type QueryExecutor } from 'kysely';

export type DbDriver = 'mysql' | 'sqlite';

/**
 * Which SQL dialect a Kysely instance, or a transaction of one, speaks: for the few statements that
 * differ (insert-ignore, column types in migrations). Structural so any `Kysely<DB>` fits.
 */
export function driverOf(db: { getExecutor(): QueryExecutor }): DbDriver {
  return db.getExecutor().adapter instanceof MysqlAdapter ? 'mysql' : 'sqlite';
}
