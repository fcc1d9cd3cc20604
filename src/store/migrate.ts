import { type Kysely, type MigrationProvider, Migrator } from 'kysely';
import { PaymentError } from '../internal/errors.js';
import { migrations } from './migrations/index.js';
import type { Database } from './schema.js';

const provider: MigrationProvider = { getMigrations: async () => migrations };

/**
 * Applies the migrations not yet applied; resolves to their names (none when up to date). Kysely
 * holds a lock meanwhile (GET_LOCK on MySQL; on SQLite the whole run is one BEGIN IMMEDIATE
 * transaction), so processes starting together apply each migration once.
 */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName;
    const message = failed ? `database migration ${failed} failed` : 'database migration failed';
    throw new PaymentError('db_migration_failed', message, { cause: error });
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
