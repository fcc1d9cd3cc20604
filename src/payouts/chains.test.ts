import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dbKinds, type OpenTestDatabase, openTestDatabase } from '../../test/helpers/db.js';
import { payoutRow } from '../../test/helpers/payouts.js';
import { allocateNonces } from '../store/repos/nonces.js';
import { insertPayoutTxs, payoutsInState, payoutsInStates, spendingOf } from '../store/repos/payouts.js';
import type { PayoutTxRow } from '../store/schema.js';
import { createPayout, movePayouts } from './state.js';

const SENDER = `0x${'4'.repeat(40)}`;
const hash = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;

/**
 * One payout engine runs per chain on the one database: what each reads and moves must be its own
 * chain's payouts only, and a wallet's nonces are counted per chain.
 */
describe.each(dbKinds)("each chain's payouts and nonces apart on %s", (kind) => {
  let database: OpenTestDatabase;
  beforeEach(async () => {
    database = await openTestDatabase(kind);
  });
  afterEach(async () => {
    await database.cleanup();
  });

  it("reads and moves only the chain's own payouts", async () => {
    const { db } = database.handle;
    const signed = { state: 'signed' as const, sender: SENDER, nonce: 0 };
    await createPayout(db, payoutRow('eth-a'), {});
    await createPayout(db, payoutRow('bsc-a', { chain: 'bsc', chain_name: 'BSC' }), {});
    await db
      .insertInto('payouts')
      .values([
        payoutRow('eth-s', { ...signed, tx_hash: hash(1) }),
        payoutRow('bsc-s', { ...signed, tx_hash: hash(2), chain_name: 'BSC', amount_raw: '7' }),
      ])
      .execute();

    expect((await payoutsInState(db, 'ETH', 'accepted')).map((r) => r.queue_id)).toEqual(['eth-a']);
    expect((await payoutsInState(db, 'BSC', 'accepted')).map((r) => r.queue_id)).toEqual(['bsc-a']);
    expect((await payoutsInStates(db, 'BSC', ['accepted', 'signed'])).map((r) => r.queue_id).sort()).toEqual([
      'bsc-a',
      'bsc-s',
    ]);
    // The same wallet's money in flight, counted on its chain only.
    expect(await spendingOf(db, 'BSC', [SENDER], ['signed'])).toEqual([
      expect.objectContaining({ sender: SENDER, amount_raw: '7' }),
    ]);

    // ETH's engine broadcasting both hashes moves only its own payout.
    const moved = await db.transaction().execute((trx) =>
      movePayouts(
        trx,
        'ETH',
        [
          { queue_id: 'eth-s', tx_hash: hash(1) },
          { queue_id: 'bsc-s', tx_hash: hash(2) },
        ],
        'signed',
        { to: 'sent', set: { last_sent_block: 1 } },
        () => ({}),
      ),
    );
    expect(moved).toEqual(['eth-s']);
    expect((await payoutsInState(db, 'BSC', 'signed')).map((r) => r.queue_id)).toEqual(['bsc-s']);
  });

  it("counts a wallet's nonces on each chain on their own", async () => {
    const { db } = database.handle;
    const tx = (n: number, chain: string): PayoutTxRow => ({
      tx_hash: hash(n + (chain === 'ETH' ? 0 : 1000)),
      queue_id: `${chain}-${n}`,
      chain_name: chain,
      sender: SENDER,
      nonce: n,
      raw_tx: '0x00',
      max_fee_per_gas: '1',
      max_priority_fee_per_gas: '1',
      gas_price: null,
      created_at: 1,
    });
    const take = (chain: string, count: number, chainNonce: number) =>
      db.transaction().execute((trx) => allocateNonces(trx, chain, SENDER, count, chainNonce));

    expect((await take('ETH', 3, 0)).first).toBe(0);
    await insertPayoutTxs(db, [tx(0, 'ETH'), tx(1, 'ETH'), tx(2, 'ETH')]);
    // Our transactions on ETH say nothing of the wallet's nonce on BSC.
    expect((await take('BSC', 1, 0)).first).toBe(0);
    await insertPayoutTxs(db, [tx(0, 'BSC')]);
    expect((await take('ETH', 1, 0)).first).toBe(3);
    expect((await take('BSC', 1, 0)).first).toBe(1);
    // The chain's own count moves its nonce forward (the wallet used elsewhere), on that chain only.
    expect((await take('BSC', 1, 10)).first).toBe(10);
    expect((await take('ETH', 1, 4)).first).toBe(4);
  });
});
