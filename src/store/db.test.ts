import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dbKinds, type OpenTestDatabase, openTestDatabase } from '../../test/helpers/db.js';
import type { DatabaseHandle } from './db.js';
import { insertIgnore } from './insert-ignore.js';
import { migrateToLatest } from './migrate.js';
import type { NewDeposit } from './schema.js';

const BIG_BLOCK = 2 ** 40;
/** 2^256 - 1: the largest uint256, 78 digits. */
const MAX_UINT256 = (2n ** 256n - 1n).toString();
const NOW = 1_750_000_000_000;

function deposit(overrides: Partial<NewDeposit> = {}): NewDeposit {
  return {
    chain: 'eth',
    symbol: 'usdt',
    token_address: `0x${'a'.repeat(40)}`,
    tx_hash: `0x${'1'.repeat(64)}`,
    tx_log_ordinal: 0,
    log_index: 7,
    block_number: BIG_BLOCK,
    block_hash: `0x${'b'.repeat(64)}`,
    from_address: `0x${'c'.repeat(40)}`,
    to_address: `0x${'d'.repeat(40)}`,
    amount_raw: MAX_UINT256,
    status: 'pending',
    orphaned_at: null,
    created_at: NOW,
    updated_at: NOW,
    ...overrides,
  };
}

describe.each(dbKinds)('store on %s', (kind) => {
  let test: OpenTestDatabase;
  let handle: DatabaseHandle;

  beforeEach(async () => {
    test = await openTestDatabase(kind);
    handle = test.handle;
  });
  afterEach(async () => {
    await test.cleanup();
  });

  it('migrates once; a second run applies nothing', async () => {
    expect(await migrateToLatest(handle.db)).toEqual([]);
    await handle.ping();
    expect(handle.driver).toBe(kind);
  });

  it('round-trips watched addresses and chain blocks with BIGINTs as numbers', async () => {
    const { db } = handle;
    await db
      .insertInto('watched_addresses')
      .values({ chain: 'eth', symbol: 'usdt', address: `0x${'e'.repeat(40)}`, created_at: NOW })
      .execute();
    await db
      .insertInto('chain_blocks')
      .values({
        chain: 'eth',
        number: BIG_BLOCK,
        hash: `0x${'f'.repeat(64)}`,
        parent_hash: `0x${'0'.repeat(64)}`,
      })
      .execute();
    const watched = await db.selectFrom('watched_addresses').selectAll().execute();
    expect(watched).toEqual([
      { chain: 'eth', symbol: 'usdt', address: `0x${'e'.repeat(40)}`, created_at: NOW },
    ]);
    const top = await db
      .selectFrom('chain_blocks')
      .select((eb) => [eb.fn.max('number').as('top'), eb.fn.countAll().as('n')])
      .executeTakeFirstOrThrow();
    expect(top).toEqual({ top: BIG_BLOCK, n: 1 });
  });

  it('round-trips a deposit: 78-digit amount exact, block number a number, id generated', async () => {
    const result = await handle.db.insertInto('deposits').values(deposit()).executeTakeFirstOrThrow();
    const id = Number(result.insertId);
    const row = await handle.db
      .selectFrom('deposits')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ id, ...deposit() });
    expect(typeof row.block_number).toBe('number');
  });

  it('stores an outbox body over 64 KB and lists unsent rows in id order', async () => {
    const body = JSON.stringify({ pad: 'x'.repeat(100_000) });
    const row = (i: number) => ({
      topic: 'topup',
      exchange: 'ex',
      routing_key: 'rk',
      body,
      created_at: NOW + i,
    });
    for (let i = 0; i < 5; i++) await handle.db.insertInto('outbox').values(row(i)).execute();
    await handle.db.updateTable('outbox').set({ sent_at: NOW }).where('id', 'in', [1, 3]).execute();
    const unsent = await handle.db
      .selectFrom('outbox')
      .selectAll()
      .where('sent_at', 'is', null)
      .orderBy('id')
      .execute();
    expect(unsent.map((r) => r.id)).toEqual([2, 4, 5]);
    expect(unsent[0]?.body).toBe(body);
  });

  it('insertIgnore skips duplicates and counts what it inserted', async () => {
    expect(await insertIgnore(handle.db, 'deposits', deposit())).toBe(1);
    expect(await insertIgnore(handle.db, 'deposits', deposit({ amount_raw: '5' }))).toBe(0);
    const batch = [deposit(), deposit({ tx_log_ordinal: 1 }), deposit({ tx_log_ordinal: 2 })];
    expect(await insertIgnore(handle.db, 'deposits', batch)).toBe(2);
    expect(await insertIgnore(handle.db, 'deposits', [])).toBe(0);
    const inTrx = await handle.db
      .transaction()
      .execute((trx) => insertIgnore(trx, 'deposits', [deposit(), deposit({ tx_log_ordinal: 3 })]));
    expect(inTrx).toBe(1);
    const amounts = await handle.db.selectFrom('deposits').select('amount_raw').execute();
    expect(amounts).toHaveLength(4);
    expect(amounts.every((r) => r.amount_raw === MAX_UINT256)).toBe(true);
  });

  it('fails a read of a BIGINT past 2^53 rather than rounding it', async () => {
    await sql`insert into chain_blocks (chain, number, hash, parent_hash) values ('eth', ${2n ** 60n}, 'h', 'p')`.execute(
      handle.db,
    );
    await expect(handle.db.selectFrom('chain_blocks').selectAll().execute()).rejects.toMatchObject({
      code: 'db_integer_range',
    });
  });

  it('serialises concurrent read-modify-write transactions without losing one', async () => {
    const { db } = handle;
    const key = { chain: 'eth', symbol: 'usdt', address: `0x${'9'.repeat(40)}` };
    await db
      .insertInto('watched_addresses')
      .values({ ...key, created_at: 0 })
      .execute();
    const increment = () =>
      db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('watched_addresses')
          .select('created_at')
          .where('address', '=', key.address)
          .forUpdate()
          .executeTakeFirstOrThrow();
        await new Promise((resolve) => setTimeout(resolve, 1));
        await trx
          .updateTable('watched_addresses')
          .set({ created_at: row.created_at + 1 })
          .where('address', '=', key.address)
          .execute();
      });
    await Promise.all(Array.from({ length: 50 }, increment));
    const final = await db.selectFrom('watched_addresses').select('created_at').executeTakeFirstOrThrow();
    expect(final.created_at).toBe(50);
  });

  it('rolls a failed transaction back', async () => {
    const failing = handle.db.transaction().execute(async (trx) => {
      await trx.insertInto('deposits').values(deposit()).execute();
      throw new Error('boom');
    });
    await expect(failing).rejects.toThrow('boom');
    expect(await handle.db.selectFrom('deposits').selectAll().execute()).toEqual([]);
  });

  it('closes more than once', async () => {
    await Promise.all([handle.close(), handle.close()]);
    await handle.close();
  });
});

describe('store on mysql only', () => {
  let test: OpenTestDatabase;

  beforeEach(async () => {
    test = await openTestDatabase('mysql');
  });
  afterEach(async () => {
    await test.cleanup();
  });

  it('insertIgnore refuses a row MySQL would truncate, and writes nothing', async () => {
    const rows = [deposit(), deposit({ tx_log_ordinal: 1, amount_raw: '9'.repeat(81) })];
    await expect(insertIgnore(test.handle.db, 'deposits', rows)).rejects.toMatchObject({
      code: 'db_insert_rejected',
    });
    expect(await test.handle.db.selectFrom('deposits').selectAll().execute()).toEqual([]);
  });

  it('rejects an over-long value on a plain insert (strict mode)', async () => {
    await expect(
      test.handle.db
        .insertInto('deposits')
        .values(deposit({ amount_raw: '9'.repeat(81) }))
        .execute(),
    ).rejects.toThrow(/too long/i);
  });
});
