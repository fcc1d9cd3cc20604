import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import type { DbConfig, MysqlDbConfig } from '../../src/config/types.js';
import { createDatabase, type DatabaseHandle } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrate.js';

/** For `describe.each(dbKinds)`: the same repository tests on both drivers. */
export const dbKinds = ['sqlite', 'mysql'] as const;
export type DbKind = (typeof dbKinds)[number];

export interface TestDatabase {
  config: DbConfig;
  /** Drops the MySQL database / removes the SQLite folder. Close handles on it first. */
  cleanup(): Promise<void>;
}

/**
 * A fresh, empty database of its own: MySQL `m2p_test_<random>` on the local server (override with
 * TEST_MYSQL_HOST / _PORT / _USER / _PASSWORD), or a SQLite file in a new temp folder. Nothing is
 * created yet: `createDatabase` creates it.
 */
export async function createTestDatabase(kind: DbKind): Promise<TestDatabase> {
  if (kind === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'm2p-test-'));
    return {
      config: { driver: 'sqlite', file: join(dir, 'payment.db') },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const config: MysqlDbConfig = {
    driver: 'mysql',
    host: process.env.TEST_MYSQL_HOST ?? '127.0.0.1',
    port: Number(process.env.TEST_MYSQL_PORT ?? 3306),
    user: process.env.TEST_MYSQL_USER ?? 'root',
    password: process.env.TEST_MYSQL_PASSWORD ?? '',
    database: `m2p_test_${randomBytes(6).toString('hex')}`,
    maxOpenConns: 10,
    connMaxLifeS: 0,
  };
  return { config, cleanup: () => dropMysqlDatabase(config) };
}

async function dropMysqlDatabase(config: MysqlDbConfig): Promise<void> {
  const { host, port, user, password } = config;
  const conn = await createConnection({ host, port, user, password });
  try {
    await conn.query(`drop database if exists \`${config.database}\``);
  } finally {
    await conn.end();
  }
}

export interface OpenTestDatabase {
  handle: DatabaseHandle;
  config: DbConfig;
  /** Closes the handle, then removes the database. */
  cleanup(): Promise<void>;
}

/** A fresh database, opened and migrated: what most repository tests start from. */
export async function openTestDatabase(kind: DbKind): Promise<OpenTestDatabase> {
  const test = await createTestDatabase(kind);
  const handle = await createDatabase(test.config).catch(async (err: unknown) => {
    await test.cleanup();
    throw err;
  });
  try {
    await migrateToLatest(handle.db);
  } catch (err) {
    await handle.close();
    await test.cleanup();
    throw err;
  }
  return {
    handle,
    config: test.config,
    async cleanup() {
      await handle.close();
      await test.cleanup();
    },
  };
}
