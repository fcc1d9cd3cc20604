import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/helpers/db.js';
import type { SqliteDbConfig } from '../config/types.js';
import { PaymentError } from '../internal/errors.js';
import { createLogger } from '../internal/logger.js';
import { acquireInstanceLock } from './instance-lock.js';

const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });

async function sqliteDatabase() {
  const db = await createTestDatabase('sqlite');
  return { config: db.config as SqliteDbConfig, cleanup: db.cleanup };
}

describe('the instance lock on sqlite', () => {
  it('is held by one holder; a second is refused or waits as a standby, and takes it when released', async () => {
    const db = await sqliteDatabase();
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
    const db = await sqliteDatabase();
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
