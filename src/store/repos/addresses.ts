import { insertIgnore } from '../insert-ignore.js';
import type { Db, HdRootTable, IssuedAddressTable } from '../schema.js';

/**
 * `hd_roots` (the encrypted HD seed, one row) and `issued_addresses` (a deposit address per business
 * user, by its HD index). Written by the vault (src/vault/) and the address issuer (src/treasury/).
 */

export const HD_ROOT_NAME = 'default';

export type HdRootRow = Pick<HdRootTable, 'encrypted_seed' | 'first_address'>;
export type IssuedAddressRow = Pick<IssuedAddressTable, 'hd_index' | 'user_ref' | 'address'>;

export async function loadHdRoot(db: Db): Promise<HdRootRow | undefined> {
  return db
    .selectFrom('hd_roots')
    .select(['encrypted_seed', 'first_address'])
    .where('name', '=', HD_ROOT_NAME)
    .executeTakeFirst();
}

/**
 * The root, under a row lock on MySQL (SQLite's write transaction holds the database): issuing takes it
 * first, so two requests never pick the same next index.
 */
export async function lockHdRoot(trx: Db): Promise<HdRootRow | undefined> {
  return trx
    .selectFrom('hd_roots')
    .select(['encrypted_seed', 'first_address'])
    .where('name', '=', HD_ROOT_NAME)
    .forUpdate()
    .executeTakeFirst();
}

/** Resolves whether it was written: false when a root exists already (which is never replaced). */
export async function insertHdRoot(db: Db, row: HdRootRow, now: number): Promise<boolean> {
  return (await insertIgnore(db, 'hd_roots', { name: HD_ROOT_NAME, ...row, created_at: now })) > 0;
}

export async function issuedToUser(db: Db, userRef: string): Promise<IssuedAddressRow | undefined> {
  return db
    .selectFrom('issued_addresses')
    .select(['hd_index', 'user_ref', 'address'])
    .where('user_ref', '=', userRef)
    .executeTakeFirst();
}

export async function issuedAt(db: Db, addressLc: string): Promise<IssuedAddressRow | undefined> {
  return db
    .selectFrom('issued_addresses')
    .select(['hd_index', 'user_ref', 'address'])
    .where('address', '=', addressLc)
    .executeTakeFirst();
}

/** The next index to issue: one past the highest (a seek on the primary key), 0 for the first. */
export async function nextHdIndex(db: Db): Promise<number> {
  const row = await db
    .selectFrom('issued_addresses')
    .select('hd_index')
    .orderBy('hd_index', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row === undefined ? 0 : Number(row.hd_index) + 1;
}

export async function insertIssuedAddress(db: Db, row: IssuedAddressRow, now: number): Promise<void> {
  await db
    .insertInto('issued_addresses')
    .values({ ...row, created_at: now })
    .execute();
}

/** Every issued address, by index (the sweeper, `wallet list`). */
export async function issuedAddresses(db: Db): Promise<IssuedAddressRow[]> {
  return db
    .selectFrom('issued_addresses')
    .select(['hd_index', 'user_ref', 'address'])
    .orderBy('hd_index')
    .execute();
}
