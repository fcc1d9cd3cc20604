import BetterSqlite3 from 'better-sqlite3';
import { createConnection } from 'mysql2/promise';
import type { Address } from 'viem';
import type { DbConfig } from '../src/config/types.js';
import { createDatabase } from '../src/store/db.js';
import { migrateToLatest } from '../src/store/migrate.js';
import { createTestDatabase, type TestDatabase } from '../test/helpers/db.js';
import { randomAddresses } from './chain.js';

const ROWS_PER_INSERT = 1_000;
const CHUNK = 20_000;

/** A fresh database (temp SQLite file or `m2p_test_*` on MariaDB), migrated; `cleanup()` removes it. */
export async function createBenchDatabase(kind: 'sqlite' | 'mysql'): Promise<TestDatabase> {
  const test = await createTestDatabase(kind);
  const handle = await createDatabase(test.config);
  try {
    await migrateToLatest(handle.db);
  } finally {
    await handle.close();
  }
  return test;
}

/**
 * Loads `total` watched addresses of `chain`/`symbol` straight into `watched_addresses` with multi-row
 * inserts: `include` first, then random ones. What a business system's topup requests would have built.
 */
export async function loadWatched(
  config: DbConfig,
  include: readonly Address[],
  total: number,
  chain = 'ETH',
  symbol = 'USDT',
): Promise<void> {
  const now = Date.now();
  const own = include.map((a) => a.toLowerCase());
  const all: string[] = total > own.length ? own.concat(randomAddresses(total - own.length)) : own;
  // In primary-key order: appends to the index instead of random page splits (several times faster).
  all.sort();
  const chunks = function* () {
    for (let i = 0; i < all.length; i += CHUNK) yield all.slice(i, i + CHUNK);
  };
  if (config.driver === 'sqlite') {
    const sqlite = new BetterSqlite3(config.file);
    try {
      const insert = (n: number) =>
        sqlite.prepare(
          `insert into watched_addresses (chain, symbol, address, created_at) values ${Array(n).fill('(?, ?, ?, ?)').join(', ')}`,
        );
      const full = insert(ROWS_PER_INSERT);
      sqlite.transaction(() => {
        for (const chunk of chunks()) {
          for (let i = 0; i < chunk.length; i += ROWS_PER_INSERT) {
            const rows = chunk.slice(i, i + ROWS_PER_INSERT);
            const stmt = rows.length === ROWS_PER_INSERT ? full : insert(rows.length);
            stmt.run(rows.flatMap((a) => [chain, symbol, a, now]));
          }
        }
      })();
    } finally {
      sqlite.close();
    }
    return;
  }
  const { host, port, user, password, database } = config;
  const conn = await createConnection({ host, port, user, password, database });
  try {
    for (const chunk of chunks()) {
      for (let i = 0; i < chunk.length; i += ROWS_PER_INSERT * 5) {
        const rows = chunk.slice(i, i + ROWS_PER_INSERT * 5).map((a) => [chain, symbol, a, now]);
        await conn.query('insert into watched_addresses (chain, symbol, address, created_at) values ?', [
          rows,
        ]);
      }
    }
  } finally {
    await conn.end();
  }
}
