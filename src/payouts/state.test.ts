import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dbKinds, type OpenTestDatabase, openTestDatabase } from '../../test/helpers/db.js';
import { payoutRow } from '../../test/helpers/payouts.js';
import { readHistory } from '../store/repos/audit.js';
import { insertPayoutTxs, payoutByQueueId, signedTransactions } from '../store/repos/payouts.js';
import type { Db, PayoutTxRow } from '../store/schema.js';
import { createPayout, type GroupMove, movePayout, movePayoutGroup, recordPayoutEvent } from './state.js';

const newPayout = (queueId: string) => payoutRow(queueId);

const hash = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;

/** Another pass signs the payout, sends it, then puts it back (its nonce was taken): accepted, a later version. */
async function signAndPutBack(db: Db, queueId: string) {
  for (const to of ['signed', 'sent', 'accepted'] as const) {
    const row = (await payoutByQueueId(db, queueId))!;
    await movePayout(db, row, { to, set: { tx_hash: to === 'accepted' ? null : hash(9) } });
  }
}

describe.each(dbKinds)('the payout state machine on %s', (kind) => {
  let database: OpenTestDatabase;
  beforeEach(async () => {
    database = await openTestDatabase(kind);
  });
  afterEach(async () => {
    await database.cleanup();
  });

  it('moves nothing on an old read, even when the payout came back to the same state since', async () => {
    const { db } = database.handle;
    await createPayout(db, newPayout('q1'), {});
    const stale = (await payoutByQueueId(db, 'q1'))!;
    // Another worker signs it, sends it, then puts it back to accepted (its nonce was taken).
    let row = stale;
    for (const to of ['signed', 'sent', 'accepted'] as const) {
      expect(await movePayout(db, row, { to, set: { tx_hash: to === 'accepted' ? null : hash(1) } })).toBe(
        true,
      );
      row = (await payoutByQueueId(db, 'q1'))!;
    }
    expect(row.state).toBe(stale.state);
    expect(await movePayout(db, stale, { to: 'signed', set: { tx_hash: hash(2) } })).toBe(false);
    expect((await payoutByQueueId(db, 'q1'))!.tx_hash).toBeNull();
    expect(await movePayout(db, row, { to: 'signed', set: { tx_hash: hash(3) } })).toBe(true);
  });

  it('refuses moves the table does not allow, and events in states they cannot happen in', async () => {
    const { db } = database.handle;
    await createPayout(db, newPayout('q2'), {});
    const row = (await payoutByQueueId(db, 'q2'))!;
    await expect(movePayout(db, row, { to: 'confirmed' })).rejects.toThrow(/cannot move from accepted/);
    await expect(recordPayoutEvent(db, row, 'replaced', {}, {})).rejects.toThrow(/cannot be replaced/);
  });

  it('moves a group at once, each payout with its own columns and audit entry, across statements', async () => {
    const { db } = database.handle;
    // More than one statement carries (500 a statement), with versions that differ.
    const ids = Array.from({ length: 503 }, (_, i) => `g${i}`);
    for (const id of ids) await createPayout(db, newPayout(id), {});
    for (const id of ['g1', 'g500']) await signAndPutBack(db, id);
    const sender = `0x${'5'.repeat(40)}`;
    const moveOf = async (id: string, i: number): Promise<GroupMove> => ({
      row: (await payoutByQueueId(db, id))!,
      own: { nonce: 10 + i, gas_limit: String(21_000 + i), tx_hash: hash(1000 + i) },
      audit: { txHash: hash(1000 + i), detail: { sender, nonce: 10 + i } },
    });
    const moves = await Promise.all(ids.map(moveOf));
    await db.transaction().execute((trx) => movePayoutGroup(trx, 'accepted', 'signed', moves, { sender }));
    for (const i of [0, 499, 500, 502]) {
      const row = (await payoutByQueueId(db, ids[i]!))!;
      expect(row).toMatchObject({
        state: 'signed',
        sender,
        nonce: 10 + i,
        gas_limit: String(21_000 + i),
        tx_hash: hash(1000 + i),
        version: moves[i]!.row.version + 1,
      });
      const history = await readHistory(db, { queueId: ids[i]! });
      expect(history.at(-1)).toMatchObject({
        from_state: 'accepted',
        to_state: 'signed',
        tx_hash: hash(1000 + i),
      });
      expect(JSON.parse(history.at(-1)!.detail!)).toEqual({ sender, nonce: 10 + i });
    }
  });

  it('moves none of a group when one payout changed since it was read', async () => {
    const { db } = database.handle;
    for (const id of ['h1', 'h2', 'h3']) await createPayout(db, newPayout(id), {});
    const read = await Promise.all(['h1', 'h2', 'h3'].map(async (id) => (await payoutByQueueId(db, id))!));
    // Another pass signs h3 and puts it back (its nonce was taken): the same state, a later version.
    await signAndPutBack(db, 'h3');
    const moves = read.map((row, i) => ({
      row,
      own: { nonce: i, gas_limit: '21000', tx_hash: hash(20 + i) },
      audit: { txHash: hash(20 + i) },
    }));
    await expect(
      db.transaction().execute((trx) => movePayoutGroup(trx, 'accepted', 'signed', moves)),
    ).rejects.toThrow(/1 of 3 payouts changed under the worker/);
    for (const id of ['h1', 'h2', 'h3']) {
      expect((await payoutByQueueId(db, id))!).toMatchObject({ state: 'accepted', tx_hash: null });
      const signed = (await readHistory(db, { queueId: id })).filter((a) => a.to_state === 'signed');
      // h3's one is the other pass's; the group left none.
      expect(signed).toHaveLength(id === 'h3' ? 1 : 0);
    }
    await expect(movePayoutGroup(db, 'sent', 'signed', [])).rejects.toThrow(/cannot move from sent/);
  });

  it('stores a signed transaction twice as once, and reads more hashes than one statement can carry', async () => {
    const { db } = database.handle;
    const tx = (n: number): PayoutTxRow => ({
      tx_hash: hash(n),
      queue_id: 'q3',
      chain_name: 'ETH',
      sender: `0x${'4'.repeat(40)}`,
      nonce: n,
      raw_tx: '0x00',
      max_fee_per_gas: '1',
      max_priority_fee_per_gas: '1',
      gas_price: null,
      created_at: 1,
    });
    await insertPayoutTxs(db, [tx(1)]);
    await insertPayoutTxs(db, [tx(1)]); // a replacement rebuilt byte-identical
    // Beyond SQLite's 32,766 variables in one IN (…) list.
    const hashes = Array.from({ length: 40_000 }, (_, i) => hash(i + 1));
    expect(await signedTransactions(db, hashes)).toHaveLength(1);
  });
});
