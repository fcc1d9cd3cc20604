import { createHash } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { type Connection, createConnection, type RowDataPacket } from 'mysql2/promise';
import type { DbConfig } from '../config/types.js';
import { PaymentError, sleep } from '../internal/errors.js';
import type { Logger } from '../internal/logger.js';

/**
 * One service per database. Until several instances can share the work, a second instance started on
 * the same database waits as a standby and takes over when the first one's process dies.
 *
 * The lock is held by the operating system or the database server on the holder's behalf, so it goes
 * with the process, however it ends (SIGKILL, a crash, a power cut of its machine for MySQL once the
 * server notices the connection is gone):
 * - MySQL: `GET_LOCK('m2pool-payment:<database>')` on a connection of its own, which the server
 *   releases when that session ends. The connection is checked every few seconds; if it is lost the
 *   lock may already belong to another instance, and `onLost` is called (the service stops).
 * - SQLite: an `EXCLUSIVE` transaction held open on a small side file `<file>.instance-lock`: a POSIX
 *   lock on that file, released by the kernel when the process exits.
 */
export interface InstanceLock {
  /** What is locked, for logs: `mysql lock m2pool-payment:payments`, `sqlite file /data/p.db.instance-lock`. */
  readonly what: string;
  /** Gives the lock up (at stop). Safe to call more than once. */
  release(): Promise<void>;
}

export interface AcquireOptions {
  /** Wait (as a standby) while another instance holds the lock; false: throw `instance_locked` at once. */
  wait: boolean;
  /** Stops the wait: the promise rejects with `instance_lock_aborted`. */
  signal?: AbortSignal;
  /** Called once if a held lock is lost (MySQL: its connection dropped). */
  onLost?: (err: Error) => void;
  /** How often a standby tries again (ms). Default 1000. */
  retryMs?: number;
  /** Called when the first attempt finds the lock taken, before waiting. */
  onStandby?: (what: string) => void;
}

/** The MySQL lock name: `m2pool-payment:<database>`, hashed when longer than MySQL's 64 characters. */
export function mysqlLockName(database: string): string {
  const name = `m2pool-payment:${database}`;
  return name.length <= 64
    ? name
    : `m2pool-payment:${createHash('sha256').update(database).digest('hex').slice(0, 40)}`;
}

/** The side file of the SQLite lock. */
export function sqliteLockFile(file: string): string {
  return `${file}.instance-lock`;
}

/** How often a held MySQL lock's connection is checked (and kept from the server's idle timeout). */
const MYSQL_CHECK_MS = 5_000;

/**
 * Takes the database's instance lock. With `wait`, a lock held by another instance is waited for: one
 * warning line, then a quiet retry every `retryMs` until it is free or `signal` aborts.
 */
export async function acquireInstanceLock(
  config: DbConfig,
  logger: Logger,
  options: AcquireOptions,
): Promise<InstanceLock> {
  const log = logger.child({ component: 'instance-lock' });
  const attempt = config.driver === 'mysql' ? mysqlAttempt(config, log, options) : sqliteAttempt(config.file);
  const retryMs = options.retryMs ?? 1_000;
  let waiting = false;
  try {
    for (;;) {
      if (options.signal?.aborted) throw aborted(attempt.what);
      const lock = await attempt.try();
      if (lock) {
        if (waiting) log.warn({ lock: lock.what }, 'the other instance is gone: took over the database');
        return lock;
      }
      if (!options.wait) {
        throw new PaymentError(
          'instance_locked',
          `another instance holds the database (${attempt.what}); only one may run on a database`,
        );
      }
      if (!waiting) {
        waiting = true;
        log.warn(
          { lock: attempt.what },
          'another instance holds the database; waiting as a standby until it stops',
        );
        options.onStandby?.(attempt.what);
      }
      await sleep(retryMs, options.signal);
    }
  } catch (err) {
    await attempt.close();
    throw err;
  }
}

function aborted(what: string): PaymentError {
  return new PaymentError('instance_lock_aborted', `stopped while waiting for the instance lock (${what})`);
}

interface Attempt {
  what: string;
  /** The lock, or undefined when another instance holds it. */
  try(): Promise<InstanceLock | undefined>;
  /** Closes what the attempts opened (after a failure). */
  close(): Promise<void>;
}

function sqliteAttempt(file: string): Attempt {
  if (file === ':memory:') {
    // A private database: no other process can open it.
    return {
      what: 'sqlite :memory:',
      try: async () => ({ what: 'sqlite :memory:', release: async () => {} }),
      close: async () => {},
    };
  }
  const path = sqliteLockFile(file);
  const what = `sqlite file ${path}`;
  let handle: BetterSqlite3.Database | undefined;
  return {
    what,
    async try() {
      // timeout 0: better-sqlite3 waits synchronously, which would stop the event loop (and /health).
      handle ??= new BetterSqlite3(path, { timeout: 0 });
      try {
        handle.exec('BEGIN EXCLUSIVE');
      } catch (err) {
        if ((err as { code?: unknown }).code === 'SQLITE_BUSY') return undefined;
        throw err;
      }
      const held = handle;
      handle = undefined;
      let released = false;
      return {
        what,
        async release() {
          if (released) return;
          released = true;
          try {
            held.exec('ROLLBACK');
          } finally {
            held.close();
          }
        },
      };
    },
    async close() {
      handle?.close();
      handle = undefined;
    },
  };
}

function mysqlAttempt(
  config: Extract<DbConfig, { driver: 'mysql' }>,
  log: Logger,
  options: AcquireOptions,
): Attempt {
  const name = mysqlLockName(config.database);
  const what = `mysql lock ${name}`;
  let conn: Connection | undefined;
  const open = async () => {
    conn ??= await createConnection({
      host: config.host,
      port: config.port,
      user: config.user,
      password: config.password,
    });
    return conn;
  };
  return {
    what,
    async try() {
      const c = await open();
      let got: unknown;
      try {
        // Waits up to 1 s on the server: a standby takes over within about a second of the holder's end.
        const [rows] = await c.query<RowDataPacket[]>('select get_lock(?, 1) as got', [name]);
        got = rows[0]?.got;
      } catch (err) {
        conn = undefined;
        c.destroy();
        throw err;
      }
      if (Number(got) !== 1) return undefined;
      conn = undefined;
      return holdMysqlLock(c, name, what, log, options.onLost);
    },
    async close() {
      conn?.destroy();
      conn = undefined;
    },
  };
}

function holdMysqlLock(
  conn: Connection,
  name: string,
  what: string,
  log: Logger,
  onLost: ((err: Error) => void) | undefined,
): InstanceLock {
  let released = false;
  let lostReported = false;
  const lost = (err: Error) => {
    if (released || lostReported) return;
    lostReported = true;
    clearInterval(timer);
    conn.destroy();
    log.error({ err, lock: what }, 'lost the instance lock: another instance may take over');
    onLost?.(err);
  };
  conn.on('error', (err: Error) => lost(err));
  const timer = setInterval(() => {
    conn
      .query<RowDataPacket[]>('select is_used_lock(?) = connection_id() as mine', [name])
      .then(([rows]) => {
        if (Number(rows[0]?.mine) !== 1) lost(new Error(`${name} is no longer held by this connection`));
      })
      .catch((err: unknown) => lost(err instanceof Error ? err : new Error(String(err))));
  }, MYSQL_CHECK_MS);
  timer.unref();
  return {
    what,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      try {
        await conn.query('select release_lock(?)', [name]);
        await conn.end();
      } catch {
        // The session is gone, and the lock with it.
        conn.destroy();
      }
    },
  };
}
