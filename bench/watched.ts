import BetterSqlite3 from 'better-sqlite3';
import { type Connection, createConnection } from 'mysql2/promise';
import type { DbConfig } from '../src/config/types.js';
import { createDatabase } from '../src/store/db.js';
import { migrateToLatest } from '../src/store/migrate.js';
import { createTestDatabase, type TestDatabase } from '../test/helpers/db.js';

const ROWS_PER_INSERT = 1_000;

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
 * The bench's own plain connection to a database (not the service's): better-sqlite3 with the service's
 * pragmas, or one mysql2 connection.
 */
export type RawDb =
  | { driver: 'sqlite'; sqlite: BetterSqlite3.Database }
  | { driver: 'mysql'; mysql: Connection };

export async function openRaw(config: DbConfig): Promise<RawDb> {
  if (config.driver === 'sqlite') {
    const sqlite = new BetterSqlite3(config.file, { timeout: 10_000 });
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    return { driver: 'sqlite', sqlite };
  }
  const { host, port, user, password, database } = config;
  const mysql = await createConnection({ host, port, user, password, database, charset: 'utf8mb4' });
  await mysql.query("set session time_zone = '+00:00', sql_mode = 'TRADITIONAL'");
  return { driver: 'mysql', mysql };
}

export async function closeRaw(raw: RawDb): Promise<void> {
  if (raw.driver === 'sqlite') raw.sqlite.close();
  else await raw.mysql.end();
}

/**
 * Watches `include` and then random addresses up to `total` for `chain`/`symbol`, straight into
 * `watched_addresses`: what a business system's topup requests would have built. The random ones are
 * made by the database itself, in primary-key order (appends to the index instead of page splits), which
 * loads 1,000,000 several times faster than rows sent from here.
 */
export async function loadWatched(
  config: DbConfig,
  include: readonly string[],
  total: number,
  chain = 'ETH',
  symbol = 'USDT',
): Promise<void> {
  const own = [...new Set(include.map((a) => a.toLowerCase()))].sort();
  const random = Math.max(0, total - own.length);
  const raw = await openRaw(config);
  try {
    if (raw.driver === 'sqlite') {
      const { sqlite } = raw;
      const insert = (n: number) =>
        sqlite.prepare(
          `insert into watched_addresses (chain, symbol, address, created_at) values ${Array(n).fill('(?, ?, ?, ?)').join(', ')}`,
        );
      sqlite.transaction(() => {
        for (let i = 0; i < own.length; i += ROWS_PER_INSERT) {
          const rows = own.slice(i, i + ROWS_PER_INSERT);
          insert(rows.length).run(rows.flatMap((a) => [chain, symbol, a, Date.now()]));
        }
        sqlite
          .prepare(
            `insert or ignore into watched_addresses (chain, symbol, address, created_at)
             select ?, ?, a, ? from (
               with recursive n(i) as (select 1 union all select i + 1 from n where i < ?)
               select '0x' || lower(hex(randomblob(20))) as a from n
             ) order by a`,
          )
          .run(chain, symbol, Date.now(), random);
      })();
      return;
    }
    const { mysql } = raw;
    for (let i = 0; i < own.length; i += ROWS_PER_INSERT * 5) {
      const rows = own.slice(i, i + ROWS_PER_INSERT * 5).map((a) => [chain, symbol, a, Date.now()]);
      await mysql.query('insert into watched_addresses (chain, symbol, address, created_at) values ?', [
        rows,
      ]);
    }
    if (random > 0) {
      // seq_1_to_N is MariaDB's SEQUENCE engine; sha1 gives exactly 40 hex digits.
      await mysql.query(
        `insert ignore into watched_addresses (chain, symbol, address, created_at)
         select ?, ?, a, ? from (select concat('0x', sha1(concat(rand(), seq))) as a from seq_1_to_${random}) t
         order by a`,
        [chain, symbol, Date.now()],
      );
    }
  } finally {
    await closeRaw(raw);
  }
}

/**
 * Marks every outbox row sent, with the service stopped: the answers of one part (tens of thousands) must
 * not be published during the next part's measurement.
 */
export async function markOutboxSent(config: DbConfig): Promise<void> {
  const raw = await openRaw(config);
  try {
    const sql = 'update outbox set sent_at = ? where sent_at is null';
    if (raw.driver === 'sqlite') raw.sqlite.prepare(sql).run(Date.now());
    else await raw.mysql.query(sql, [Date.now()]);
  } finally {
    await closeRaw(raw);
  }
}
