import type { AnyDb } from './portable.js';

/*
 * The nonce allocation reads the highest nonce we ever signed for a wallet (store/repos/nonces.ts), under
 * a lock: without this index that read scans every signed transaction of every wallet. Frozen once
 * released.
 */

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createIndex('payout_txs_sender_nonce_idx')
    .on('payout_txs')
    .columns(['sender', 'nonce'])
    .execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropIndex('payout_txs_sender_nonce_idx').on('payout_txs').execute();
}
