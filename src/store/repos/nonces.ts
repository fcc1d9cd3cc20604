import { insertIgnore } from '../insert-ignore.js';
import type { Db } from '../schema.js';

export interface NonceAllocation {
  first: number;
  /** The stored counter when it disagreed with the truth (a gap or an overlap that was repaired). */
  repairedFrom: number | undefined;
}

/**
 * Takes `count` consecutive nonces of `sender` on the chain `chainName` (a wallet serves every EVM chain,
 * with an independent nonce on each) under a lock on its `sender_nonces` row (MySQL
 * `FOR UPDATE`; SQLite serialises writers), inside the caller's transaction: the signed transactions that
 * use them are stored in that same transaction, so a crash can never leave a nonce taken but unused.
 *
 * The next nonce is derived, not trusted from the counter: the larger of the chain's transaction count
 * (`chainNonce`: a wallet also used from elsewhere moves us forward) and one past the highest nonce of any
 * transaction we ever signed for the wallet (never reuse one: it may still be mined). A counter that ran
 * ahead of both (a restored backup, a lost row) would leave a gap no transaction fills and stall every later
 * payout of the wallet; it is repaired here.
 */
export async function allocateNonces(
  trx: Db,
  chainName: string,
  sender: string,
  count: number,
  chainNonce: number,
): Promise<NonceAllocation> {
  await insertIgnore(trx, 'sender_nonces', {
    chain_name: chainName,
    address: sender,
    next_nonce: chainNonce,
  });
  const row = await trx
    .selectFrom('sender_nonces')
    .select('next_nonce')
    .where('chain_name', '=', chainName)
    .where('address', '=', sender)
    .forUpdate()
    .executeTakeFirstOrThrow();
  const ours = await trx
    .selectFrom('payout_txs')
    .select((eb) => eb.fn.max('nonce').as('max'))
    .where('chain_name', '=', chainName)
    .where('sender', '=', sender)
    .forUpdate()
    .executeTakeFirst();
  const highest = ours?.max === null || ours?.max === undefined ? -1 : Number(ours.max);
  const first = Math.max(chainNonce, highest + 1);
  const counted = Number(row.next_nonce);
  await trx
    .updateTable('sender_nonces')
    .set({ next_nonce: first + count })
    .where('chain_name', '=', chainName)
    .where('address', '=', sender)
    .execute();
  return { first, repairedFrom: counted !== first ? counted : undefined };
}
