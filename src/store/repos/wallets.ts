import { insertIgnore } from '../insert-ignore.js';
import type { Db } from '../schema.js';

/** `wallets`: the vault's encrypted keys (src/vault/), one row per address, never updated. */

export async function encryptedKeyOf(db: Db, address: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('wallets')
    .select('encrypted_key')
    .where('address', '=', address)
    .executeTakeFirst();
  return row?.encrypted_key;
}

/** Any one stored wallet (the first by address), to check the master key against. */
export async function anyWallet(db: Db): Promise<{ address: string; encrypted_key: string } | undefined> {
  return db
    .selectFrom('wallets')
    .select(['address', 'encrypted_key'])
    .orderBy('address')
    .limit(1)
    .executeTakeFirst();
}

export async function insertWallet(
  db: Db,
  address: string,
  encryptedKey: string,
  now: number,
): Promise<void> {
  await insertIgnore(db, 'wallets', { address, encrypted_key: encryptedKey, created_at: now });
}

/** Every stored address, lowercase, oldest first. */
export async function walletAddresses(db: Db): Promise<string[]> {
  const rows = await db
    .selectFrom('wallets')
    .select('address')
    .orderBy('created_at')
    .orderBy('address')
    .execute();
  return rows.map((r) => r.address);
}
