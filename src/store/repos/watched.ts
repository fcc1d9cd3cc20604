import { chunks } from '../../internal/options.js';
import { insertIgnore } from '../insert-ignore.js';
import type { Db } from '../schema.js';

/** `watched_addresses`: the (chain, token, address) triples whose deposits are reported. */

/** Starts watching; resolves whether the address was new. Watching twice is harmless. */
export async function watchAddress(
  db: Db,
  row: { chain: string; symbol: string; address: string },
  now = Date.now(),
): Promise<boolean> {
  return (await insertIgnore(db, 'watched_addresses', { ...row, created_at: now })) > 0;
}

/**
 * Which of `addresses` are watched for `symbol` on `chain`. By the whole primary key (chain, symbol,
 * address): without `symbol` the index narrows only to the chain and each query scans every watched
 * address of it (seconds per query at a million).
 */
export async function watchedAmong(
  db: Db,
  chain: string,
  symbol: string,
  addresses: readonly string[],
): Promise<Set<string>> {
  const watched = new Set<string>();
  for (const slice of chunks(addresses)) {
    const rows = await db
      .selectFrom('watched_addresses')
      .select('address')
      .where('chain', '=', chain)
      .where('symbol', '=', symbol)
      .where('address', 'in', slice)
      .execute();
    for (const r of rows) watched.add(r.address);
  }
  return watched;
}

/**
 * Whether any address is watched for `symbol` on `chain`: one seek on the primary key's prefix. The
 * watcher asks it before fetching whole blocks for native-coin deposits, which cost far more than logs.
 */
export async function anyWatched(db: Db, chain: string, symbol: string): Promise<boolean> {
  const row = await db
    .selectFrom('watched_addresses')
    .select('address')
    .where('chain', '=', chain)
    .where('symbol', '=', symbol)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
