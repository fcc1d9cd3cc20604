import type { Migration } from 'kysely';
import * as core from './0001_core.js';

/**
 * Every migration, in code rather than found on disk, so they ship inside dist/ and a bundle.
 * Kysely runs them in the order of these names. On SQLite each run is one transaction, where
 * PRAGMA foreign_keys has no effect.
 */
export const migrations: Record<string, Migration> = {
  '0001_core': core,
};
