import { describe, expect, it } from 'vitest';
import { dbKinds, openTestDatabase } from '../../../test/helpers/db.js';
import { enqueueOutbox } from './outbox.js';

describe.each(dbKinds)('enqueueOutbox on %s', (kind) => {
  // A backfill of a busy range confirms tens of thousands of deposits in one transaction: more rows than
  // one statement may carry (SQLite: 32,766 placeholders = 5,461 rows; MySQL: 65,535 = 10,922 rows).
  it('writes more rows than fit in one statement, in order, in the caller transaction', async () => {
    const database = await openTestDatabase(kind);
    try {
      const { db } = database.handle;
      const messages = Array.from({ length: 12_000 }, (_, i) => ({
        topic: 'topup',
        exchange: 'x',
        routingKey: 'r',
        body: `{"n":${i}}`,
      }));
      await db.transaction().execute((trx) => enqueueOutbox(trx, messages));
      const rows = await db.selectFrom('outbox').select(['id', 'body']).orderBy('id').execute();
      expect(rows).toHaveLength(12_000);
      expect(rows.map((r) => r.body)).toEqual(messages.map((m) => m.body));
    } finally {
      await database.cleanup();
    }
  });
});
