import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dbKinds, type OpenTestDatabase, openTestDatabase } from '../../test/helpers/db.js';
import { payoutRow } from '../../test/helpers/payouts.js';
import { insertPayoutTxs, payoutByQueueId, signedTransactions } from '../store/repos/payouts.js';
import type { PayoutTxRow } from '../store/schema.js';
import { createPayout, movePayout, recordPayoutEvent } from './state.js';

const newPayout = (queueId: string) => payoutRow(queueId);

const hash = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;

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
