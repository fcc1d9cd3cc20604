import { Migrator, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, dbKinds, type TestDatabase } from '../../../test/helpers/db.js';
import { payoutRow } from '../../../test/helpers/payouts.js';
import { createDatabase, type DatabaseHandle } from '../db.js';
import { migrateToLatest } from '../migrate.js';
import { allocateNonces } from '../repos/nonces.js';
import type { NewPayout } from '../schema.js';
import { migrations } from './index.js';

const SENDER = `0x${'4'.repeat(40)}`;
const hash = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;

describe.each(dbKinds)('migration 0009 (payouts per chain) on %s', (kind) => {
  let test: TestDatabase | undefined;
  let handle: DatabaseHandle | undefined;

  afterEach(async () => {
    await handle?.close();
    handle = undefined;
    await test?.cleanup();
  });

  it("keeps an 0008 database's payouts, signed transactions and nonces, as the chain ETH", async () => {
    test = await createTestDatabase(kind);
    handle = await createDatabase(test.config);
    const { db } = handle;
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    expect((await migrator.migrateTo('0008_nopad_ids')).error).toBeUndefined();

    // Rows as an 0008-era service wrote them: no chain_name anywhere, nonces keyed by address.
    const { chain_name: _chainName, ...before } = payoutRow('w1', {
      state: 'sent',
      sender: SENDER,
      nonce: 6,
      tx_hash: hash(6),
    });
    await db
      .insertInto('payouts')
      .values(before as NewPayout)
      .execute();
    await db
      .insertInto('payout_txs')
      .values(
        [5, 6].map((n) => ({
          tx_hash: hash(n),
          queue_id: 'w1',
          sender: SENDER,
          nonce: n,
          raw_tx: '0x00',
          max_fee_per_gas: '1',
          max_priority_fee_per_gas: '1',
          gas_price: null,
          created_at: 1,
        })),
      )
      .execute();
    await sql`insert into sender_nonces (address, next_nonce) values (${SENDER}, 7)`.execute(db);

    expect((await migrateToLatest(db))[0]).toBe('0009_payout_chains');

    expect(
      await db.selectFrom('payouts').select(['queue_id', 'chain', 'chain_name', 'state']).execute(),
    ).toEqual([{ queue_id: 'w1', chain: 'ETH', chain_name: 'ETH', state: 'sent' }]);
    expect(
      await db.selectFrom('payout_txs').select(['tx_hash', 'chain_name', 'nonce']).orderBy('nonce').execute(),
    ).toEqual([
      { tx_hash: hash(5), chain_name: 'ETH', nonce: 5 },
      { tx_hash: hash(6), chain_name: 'ETH', nonce: 6 },
    ]);
    expect(await db.selectFrom('sender_nonces').selectAll().execute()).toEqual([
      { chain_name: 'ETH', address: SENDER, next_nonce: 7 },
    ]);

    // The wallet goes on from its stored nonce on ETH, and starts on its own on another chain.
    const eth = await db.transaction().execute((trx) => allocateNonces(trx, 'ETH', SENDER, 2, 0));
    expect(eth).toEqual({ first: 7, repairedFrom: undefined });
    const bsc = await db.transaction().execute((trx) => allocateNonces(trx, 'BSC', SENDER, 1, 0));
    expect(bsc).toEqual({ first: 0, repairedFrom: undefined });
    expect(await db.selectFrom('sender_nonces').selectAll().orderBy('chain_name').execute()).toEqual([
      { chain_name: 'BSC', address: SENDER, next_nonce: 1 },
      { chain_name: 'ETH', address: SENDER, next_nonce: 9 },
    ]);

    if (kind === 'mysql') {
      // The new table compares ids exactly, as every table does since 0008.
      const { rows } = await sql<{ collation: string }>`
        select table_collation as collation from information_schema.tables
        where table_schema = database() and table_name = 'sender_nonces'`.execute(db);
      expect(rows[0]?.collation).toMatch(/nopad|0900_bin/);
      // DDL is not transactional on MySQL: a run cut short is run again, and a finished one changes nothing.
      await migrations['0009_payout_chains']!.up(db);
      expect(await db.selectFrom('sender_nonces').selectAll().execute()).toHaveLength(2);
      // Cut after the old table was dropped, before the new one took its name.
      await sql`alter table sender_nonces rename to sender_nonces_by_chain`.execute(db);
      await migrations['0009_payout_chains']!.up(db);
      expect(await db.selectFrom('sender_nonces').selectAll().execute()).toHaveLength(2);
    }
  });
});
