import type { Db } from '../schema.js';

/** A block as the watcher keeps it: its number, hash and parent. */
export interface StoredBlock {
  number: number;
  hash: `0x${string}`;
  parentHash: `0x${string}`;
}

/**
 * `chain_blocks`: the recent, unfinalised blocks the watcher has processed, per chain; the highest is its
 * cursor. Written only by the watcher, in the transaction that records the block's deposits.
 */

/** The watcher's cursor: the highest stored block. */
export async function loadCursor(db: Db, chain: string): Promise<StoredBlock | undefined> {
  const row = await db
    .selectFrom('chain_blocks')
    .selectAll()
    .where('chain', '=', chain)
    .orderBy('number', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    number: Number(row.number),
    hash: row.hash as `0x${string}`,
    parentHash: row.parent_hash as `0x${string}`,
  };
}

/** Every stored block, highest first: the candidates for a common ancestor after a reorganisation. */
export async function storedBlocksDescending(
  db: Db,
  chain: string,
): Promise<{ number: number; hash: string }[]> {
  const rows = await db
    .selectFrom('chain_blocks')
    .select(['number', 'hash'])
    .where('chain', '=', chain)
    .orderBy('number', 'desc')
    .execute();
  return rows.map((r) => ({ number: Number(r.number), hash: r.hash }));
}

export async function insertBlock(db: Db, chain: string, block: StoredBlock): Promise<void> {
  await db
    .insertInto('chain_blocks')
    .values({ chain, number: block.number, hash: block.hash, parent_hash: block.parentHash })
    .execute();
}

/** Forgets blocks below `number`: too deep to be reorganised, no longer needed to find an ancestor. */
export async function pruneBlocksBelow(db: Db, chain: string, number: number): Promise<void> {
  await db.deleteFrom('chain_blocks').where('chain', '=', chain).where('number', '<', number).execute();
}

/** Forgets blocks above the common ancestor of a reorganisation. */
export async function removeBlocksAbove(db: Db, chain: string, number: number): Promise<void> {
  await db.deleteFrom('chain_blocks').where('chain', '=', chain).where('number', '>', number).execute();
}

/** Makes `block` the only stored block: after a range backfill (ranges carry no parent hashes) or a re-anchor. */
export async function resetCursor(db: Db, chain: string, block: StoredBlock): Promise<void> {
  await db.deleteFrom('chain_blocks').where('chain', '=', chain).execute();
  await insertBlock(db, chain, block);
}
