import { Migrator, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, dbKinds, type TestDatabase } from '../../../test/helpers/db.js';
import { payoutRow } from '../../../test/helpers/payouts.js';
import { createDatabase, type DatabaseHandle } from '../db.js';
import { migrateToLatest } from '../migrate.js';
import { readHistory, recordAudit } from '../repos/audit.js';
import { insertPayoutIfNew } from '../repos/payouts.js';
import type { NewPayout } from '../schema.js';
import { migrations } from './index.js';

function payout(queueId: string, orderId: string) {
  return payoutRow(queueId, {
    kind: 'pay',
    order_id: orderId,
    token_address: '0x',
    from_address: '0x',
    to_address: '0x',
    amount_raw: '1',
    amount_text: '0.000001',
  });
}

/** Both spellings stored, each found alone, on a database migrated to the latest. */
async function expectTwoIds(handle: DatabaseHandle): Promise<void> {
  const { db } = handle;
  expect(await insertPayoutIfNew(db, payout('w1 ', 'o1 '))).toBe(true);
  expect(await insertPayoutIfNew(db, payout(' w1', 'o1'))).toBe(true);
  expect(await insertPayoutIfNew(db, payout('w1 ', 'o1'))).toBe(false);
  for (const id of ['w1', 'w1 ', ' w1']) {
    const rows = await db.selectFrom('payouts').select('queue_id').where('queue_id', '=', id).execute();
    expect(rows.map((r) => r.queue_id)).toEqual([id]);
  }
  const orders = await db.selectFrom('payouts').select('queue_id').where('order_id', '=', 'o1').execute();
  expect(orders.map((r) => r.queue_id).sort()).toEqual([' w1', 'w1']);
  await recordAudit(db, [
    { subject: 'payout', ref: 'w1', toState: 'accepted' },
    { subject: 'payout', ref: 'w1 ', toState: 'accepted' },
  ]);
  expect((await readHistory(db, { queueId: 'w1' })).map((r) => r.ref)).toEqual(['w1']);
  expect((await readHistory(db, { queueId: 'w1 ' })).map((r) => r.ref)).toEqual(['w1 ']);
}

describe.each(dbKinds)('ids differing by trailing or leading spaces on %s', (kind) => {
  let test: TestDatabase | undefined;
  let handle: DatabaseHandle | undefined;

  afterEach(async () => {
    await handle?.close();
    handle = undefined;
    await test?.cleanup();
  });

  it('are different keys once migrated, rows from before the migration included', async () => {
    test = await createTestDatabase(kind);
    handle = await createDatabase(test.config);
    const names = Object.keys(migrations);
    const before = names[names.indexOf('0008_nopad_ids') - 1]!;
    const migrator = new Migrator({ db: handle.db, provider: { getMigrations: async () => migrations } });
    expect((await migrator.migrateTo(before)).error).toBeUndefined();
    // A row as stored then: without chain_name, which 0009 added.
    const { chain_name: _chainName, ...row0007 } = payout('w1', 'o1');
    await handle.db
      .insertInto('payouts')
      .values(row0007 as NewPayout)
      .execute();
    expect(await migrateToLatest(handle.db)).toContain('0008_nopad_ids');
    await expectTwoIds(handle);
    if (kind === 'mysql') {
      // Every table of the service, and the default of tables made later.
      const { rows } = await sql<{ name: string; collation: string }>`
        select table_name as name, table_collation as collation from information_schema.tables
        where table_schema = database() and table_name not like 'kysely\\_%'`.execute(handle.db);
      expect(rows.length).toBeGreaterThan(5);
      for (const r of rows)
        expect([r.name, r.collation]).toEqual([r.name, expect.stringMatching(/nopad|0900_bin/)]);
    }
  });
});
