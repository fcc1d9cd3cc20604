import { CompiledQuery, type Dialect, MysqlDialect, type MysqlPool } from 'kysely';
import { createPool, escapeId, type Pool, type PoolConnection, type TypeCast } from 'mysql2';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import type { MysqlDbConfig } from '../config/types.js';
import type { Logger } from '../internal/logger.js';
import { toSafeNumber } from './integers.js';

/**
 * Session settings on every new connection: UTC for any server-side time function, and strict
 * TRADITIONAL mode whatever the server default, so an over-long or invalid value is an error and
 * never silently truncated.
 */
const SESSION_SETUP = "set session time_zone = '+00:00', sql_mode = 'TRADITIONAL'";

/** Creates the configured database when it is missing, then a pooled dialect on it. */
export async function createMysqlDialect(config: MysqlDbConfig, logger?: Logger): Promise<Dialect> {
  await ensureMysqlDatabase(config, logger);
  const pool = createPool({
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password,
    database: config.database,
    connectionLimit: config.maxOpenConns,
    waitForConnections: true,
    enableKeepAlive: true,
    charset: 'utf8mb4',
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: false,
    typeCast: bigintAsNumber,
  });
  return new MysqlDialect({
    pool: withMaxLifetime(pool, config.connMaxLifeS * 1000),
    onCreateConnection: async (connection) => {
      await connection.executeQuery(CompiledQuery.raw(SESSION_SETUP));
    },
  });
}

/**
 * BIGINT (and COUNT(*)) as a JS number, as better-sqlite3 gives them, or an error past 2^53 where
 * mysql2 alone would switch to a string. DECIMAL results (SUM) stay strings.
 */
const bigintAsNumber: TypeCast = (field, next) => {
  if (field.type !== 'LONGLONG') return next();
  const text = field.string();
  return text === null ? null : toSafeNumber(text, field.name);
};

/**
 * Connects without a database so a fresh server works. Looks before creating: a user allowed only
 * on an existing database may not hold the CREATE privilege.
 */
export async function ensureMysqlDatabase(config: MysqlDbConfig, logger?: Logger): Promise<void> {
  const conn = await createConnection({
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password,
  });
  try {
    const [rows] = await conn.query<RowDataPacket[]>(
      'select schema_name from information_schema.schemata where schema_name = ?',
      [config.database],
    );
    if (rows.length > 0) return;
    await conn.query(
      `create database if not exists ${escapeId(config.database)} character set utf8mb4 collate utf8mb4_bin`,
    );
    logger?.info({ database: config.database }, 'mysql: database created');
  } finally {
    await conn.end();
  }
}

/**
 * mysql2's pool has no maximum connection age (`connMaxLife`); a connection older than it is
 * closed when next taken from the pool, and another one taken instead. 0 means no limit.
 */
function withMaxLifetime(pool: Pool, maxLifeMs: number): MysqlPool {
  if (maxLifeMs <= 0) return pool;
  const bornAt = new WeakMap<PoolConnection, number>();
  pool.on('connection', (conn) => bornAt.set(conn, Date.now()));
  const getConnection: MysqlPool['getConnection'] = (callback) => {
    pool.getConnection((err, conn) => {
      if (err) return callback(err, conn);
      const born = bornAt.get(conn);
      if (born !== undefined && Date.now() - born > maxLifeMs) {
        conn.destroy();
        return getConnection(callback);
      }
      callback(null, conn);
    });
  };
  return { getConnection, end: (callback) => pool.end(callback) };
}
