import type { Transaction } from 'kysely';
import { insertIgnore } from '../store/insert-ignore.js';
import type { Database } from '../store/schema.js';

/**
 * Takes `count` consecutive nonces of `sender` under a lock on its row (MySQL `FOR UPDATE`; SQLite
 * serialises writers), inside the caller's transaction: the signed transactions that use them are stored in
 * that same transaction, so a crash can never leave a nonce taken but unused. `chainNonce` is the sender's
 * transaction count on chain: a wallet also used from elsewhere moves our counter forward, never back.
 */
export async function allocateNonces(
  trx: Transaction<Database>,
  sender: string,
  count: number,
  chainNonce: number,
): Promise<number> {
  await insertIgnore(trx, 'sender_nonces', { address: sender, next_nonce: chainNonce });
  const row = await trx
    .selectFrom('sender_nonces')
    .select('next_nonce')
    .where('address', '=', sender)
    .forUpdate()
    .executeTakeFirstOrThrow();
  const first = Math.max(Number(row.next_nonce), chainNonce);
  await trx
    .updateTable('sender_nonces')
    .set({ next_nonce: first + count })
    .where('address', '=', sender)
    .execute();
  return first;
}
