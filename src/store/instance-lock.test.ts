import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { createTestDatabase, dbKinds } from '../../test/helpers/db.js';
import { PaymentError } from '../internal/errors.js';
import { createLogger } from '../internal/logger.js';
import { acquireInstanceLock, mysqlLockName } from './instance-lock.js';

const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });

describe.each(dbKinds)('the instance lock on %s', (kind) => {
  it('is held by one holder; a second is refused or waits as a standby, and takes it when released', async () => {
    const db = await createTestDatabase(kind);
    try {
      const first = await acquireInstanceLock(db.config, logger, { wait: false });
      const refused = await acquireInstanceLock(db.config, logger, { wait: false }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(PaymentError);
      expect((refused as PaymentError).code).toBe('instance_locked');

      let standbyOn: string | undefined;
      let taken = false;
      const waiting = acquireInstanceLock(db.config, logger, {
        wait: true,
        retryMs: 50,
        onStandby: (what) => {
          standbyOn = what;
        },
      }).then((lock) => {
        taken = true;
        return lock;
      });
      await new Promise((r) => setTimeout(r, 1_500));
      expect(standbyOn).toBe(first.what);
      expect(taken).toBe(false);

      await first.release();
      const second = await waiting;
      expect(second.what).toBe(first.what);
      await second.release();
    } finally {
      await db.cleanup();
    }
  });

  it('stops waiting when the signal aborts', async () => {
    const db = await createTestDatabase(kind);
    try {
      const first = await acquireInstanceLock(db.config, logger, { wait: false });
      const stop = new AbortController();
      const waiting = acquireInstanceLock(db.config, logger, {
        wait: true,
        retryMs: 50,
        signal: stop.signal,
      });
      setTimeout(() => stop.abort(), 300);
      const err = await waiting.catch((e: unknown) => e);
      expect((err as PaymentError).code).toBe('instance_lock_aborted');
      await first.release();
      // Free again: a new holder gets it at once.
      const again = await acquireInstanceLock(db.config, logger, { wait: false });
      await again.release();
    } finally {
      await db.cleanup();
    }
  });
});

describe('the instance lock on mysql, lost', () => {
  it('calls onLost when its connection is killed, and another holder can take it', async () => {
    const db = await createTestDatabase('mysql');
    if (db.config.driver !== 'mysql') throw new Error('mysql expected');
    const { host, port, user, password, database } = db.config;
    const admin = await createConnection({ host, port, user, password });
    try {
      let lost: Error | undefined;
      const held = await acquireInstanceLock(db.config, logger, {
        wait: false,
        onLost: (err) => {
          lost = err;
        },
      });
      const [rows] = await admin.query<RowDataPacket[]>('select is_used_lock(?) as id', [
        mysqlLockName(database),
      ]);
      await admin.query(`kill ${Number(rows[0]?.id)}`);
      const end = Date.now() + 15_000;
      while (!lost && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      expect(lost).toBeInstanceOf(Error);
      const next = await acquireInstanceLock(db.config, logger, { wait: false });
      await next.release();
      await held.release();
    } finally {
      await admin.end();
      await db.cleanup();
    }
  });
});

describe('mysqlLockName', () => {
  it('names the database, within MySQL 64 characters', () => {
    expect(mysqlLockName('payments')).toBe('m2pool-payment:payments');
    expect(mysqlLockName('x'.repeat(64)).length).toBeLessThanOrEqual(64);
  });
});
