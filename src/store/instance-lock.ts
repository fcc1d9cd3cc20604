import BetterSqlite3 from 'better-sqlite3';
import type { SqliteDbConfig } from '../config/types.js';
import { PaymentError, sleep } from '../internal/errors.js';
import type { Logger } from '../internal/logger.js';

/**
 * One service per SQLite file: a second instance started on the same file waits as a standby and takes
 * over when the first one's process ends. (On MySQL several instances share the database: leases,
 * src/cluster/.)
 *
 * The lock is an `EXCLUSIVE` transaction held open on a small side file `<file>.instance-lock`: a POSIX
 * lock on that file, released by the kernel when the process exits, however it ends (SIGKILL, a crash).
 */
export interface InstanceLock {
  /** What is locked, for logs: `sqlite file /data/p.db.instance-lock`. */
  readonly what: string;
  /** Gives the lock up (at stop). Safe to call more than once. */
  release(): Promise<void>;
}

export interface AcquireOptions {
  /** Wait (as a standby) while another instance holds the lock; false: throw `instance_locked` at once. */
  wait: boolean;
  /** Stops the wait: the promise rejects with `instance_lock_aborted`. */
  signal?: AbortSignal;
  /** How often a standby tries again (ms). Default 1000. */
  retryMs?: number;
  /** Called when the first attempt finds the lock taken, before waiting. */
  onStandby?: (what: string) => void;
}

/** The side file of the SQLite lock. */
export function sqliteLockFile(file: string): string {
  return `${file}.instance-lock`;
}

/**
 * Takes the database's instance lock. With `wait`, a lock held by another instance is waited for: one
 * warning line, then a quiet retry every `retryMs` until it is free or `signal` aborts.
 */
export async function acquireInstanceLock(
  config: SqliteDbConfig,
  logger: Logger,
  options: AcquireOptions,
): Promise<InstanceLock> {
  const log = logger.child({ component: 'instance-lock' });
  const attempt = sqliteAttempt(config.file);
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
