import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dbKinds, type OpenTestDatabase, openTestDatabase } from '../../test/helpers/db.js';
import { type AuditEntry, depositRef, readHistory, recordAudit } from '../store/repos/audit.js';
import type { Database } from '../store/schema.js';
import { formatHistoryLine, historyJson } from './history.js';

const NOW = 1_750_000_000_000;
const hash = (c: string) => `0x${c.repeat(64)}`;

async function record(db: Kysely<Database>, entries: AuditEntry[], now = NOW) {
  await db.transaction().execute((trx) => recordAudit(trx, entries, now));
}

describe.each(dbKinds)('audit log on %s', (kind) => {
  let test: OpenTestDatabase;
  let db: Kysely<Database>;

  beforeEach(async () => {
    test = await openTestDatabase(kind);
    db = test.handle.db;
  });
  afterEach(async () => {
    await test.cleanup();
  });

  it("reads a payout's history in the order written, with its details", async () => {
    await record(db, [{ subject: 'payout', ref: 'q-1', toState: 'accepted', detail: { kind: 'withdraw' } }]);
    await record(
      db,
      [
        {
          subject: 'payout',
          ref: 'q-1',
          txHash: hash('a'),
          fromState: 'accepted',
          toState: 'signed',
          detail: { nonce: 7, maxFeePerGas: 2n ** 70n },
        },
        { subject: 'payout', ref: 'q-2', toState: 'accepted' },
      ],
      NOW + 1,
    );
    await record(
      db,
      [
        {
          subject: 'payout',
          ref: 'q-1',
          txHash: hash('a'),
          fromState: 'signed',
          toState: 'sent',
          blockNumber: 2 ** 40,
        },
      ],
      NOW + 2,
    );
    const rows = await readHistory(db, { queueId: 'q-1' });
    expect(rows.map((r) => [r.from_state, r.to_state])).toEqual([
      [null, 'accepted'],
      ['accepted', 'signed'],
      ['signed', 'sent'],
    ]);
    expect(rows[2]).toMatchObject({ tx_hash: hash('a'), block_number: 2 ** 40, created_at: NOW + 2 });
    expect(historyJson(rows[1]!)).toMatchObject({
      subject: 'payout',
      ref: 'q-1',
      from: 'accepted',
      to: 'signed',
      block: null,
      detail: { nonce: 7, maxFeePerGas: (2n ** 70n).toString() },
    });
    expect(formatHistoryLine(rows[0]!)).toBe(
      `${new Date(NOW).toISOString()}  payout q-1  (new) → accepted  tx -  block -  {"kind":"withdraw"}`,
    );
    expect(await readHistory(db, { queueId: 'q-none' })).toEqual([]);
  });

  it('finds a payout by any hash it was signed with, and a deposit by its transaction', async () => {
    await db
      .insertInto('payout_txs')
      .values(
        ['a', 'b'].map((c) => ({
          tx_hash: hash(c),
          queue_id: 'q-r',
          sender: `0x${'1'.repeat(40)}`,
          nonce: 0,
          raw_tx: '0x00',
          max_fee_per_gas: null,
          max_priority_fee_per_gas: null,
          gas_price: '1',
          created_at: NOW,
        })),
      )
      .execute();
    const dep = depositRef(hash('d'), 0);
    await record(db, [
      { subject: 'payout', ref: 'q-r', txHash: hash('a'), fromState: 'accepted', toState: 'signed' },
      { subject: 'payout', ref: 'q-r', txHash: hash('b'), fromState: 'sent', toState: 'replaced' },
      { subject: 'deposit', ref: dep, txHash: hash('d'), toState: 'pending', blockNumber: 10 },
      { subject: 'deposit', ref: depositRef(hash('d'), 1), txHash: hash('d'), toState: 'pending' },
      { subject: 'deposit', ref: dep, txHash: hash('d'), fromState: 'pending', toState: 'confirmed' },
      // A payout whose ref happens to look like the deposit's: found by neither hash.
      { subject: 'payout', ref: dep, toState: 'accepted' },
    ]);
    for (const c of ['a', 'b']) {
      const rows = await readHistory(db, { txHash: hash(c).toUpperCase().replace('0X', '0x') });
      expect(rows.map((r) => r.to_state)).toEqual(['signed', 'replaced']);
    }
    const deposits = await readHistory(db, { txHash: hash('d') });
    expect(deposits.map((r) => [r.ref, r.to_state])).toEqual([
      [dep, 'pending'],
      [depositRef(hash('d'), 1), 'pending'],
      [dep, 'confirmed'],
    ]);
    expect(deposits.every((r) => r.subject === 'deposit')).toBe(true);
    expect(await readHistory(db, { txHash: hash('e') })).toEqual([]);
  });

  it('commits with the caller: a rolled-back transaction leaves no entry', async () => {
    await expect(
      db.transaction().execute(async (trx) => {
        await recordAudit(trx, [{ subject: 'payout', ref: 'q-x', toState: 'accepted' }]);
        throw new Error('state change failed');
      }),
    ).rejects.toThrow('state change failed');
    expect(await readHistory(db, { queueId: 'q-x' })).toEqual([]);
  });

  it('writes large batches and cuts an over-long detail', async () => {
    const entries: AuditEntry[] = Array.from({ length: 1_203 }, (_, i) => ({
      subject: 'deposit',
      ref: depositRef(hash('f'), i),
      txHash: hash('f'),
      toState: 'pending',
      blockNumber: i,
    }));
    entries.push({ subject: 'payout', ref: 'q-long', toState: 'failed', detail: 'x'.repeat(5_000) });
    await record(db, entries);
    expect(await readHistory(db, { txHash: hash('f') })).toHaveLength(1_203);
    const [long] = await readHistory(db, { queueId: 'q-long' });
    expect(long!.detail).toHaveLength(1_000);
    expect(long!.detail!.endsWith('…')).toBe(true);
  });
});
