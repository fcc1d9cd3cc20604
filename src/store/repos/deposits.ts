import { chunks } from '../../internal/options.js';
import type { Db, DepositRow, DepositStatus, NewDeposit } from '../schema.js';

/**
 * `deposits`: one row per transfer to a watched address, identified by (chain, tx_hash, tx_log_ordinal).
 * A native-coin deposit (token_address `NATIVE_ADDRESS_LC`) has no log: its tx_log_ordinal and log_index
 * are -1, apart from the ordinals 0, 1, … of the same transaction's token Transfer logs.
 * Written only by the deposit tracker, inside the watcher's transaction.
 */

/** The deposits of these transactions already stored, keyed `tx_hash:tx_log_ordinal`. */
export async function depositsOfTransactions(
  db: Db,
  chain: string,
  txHashes: readonly string[],
): Promise<Map<string, DepositRow>> {
  const found = new Map<string, DepositRow>();
  for (const slice of chunks(txHashes)) {
    const rows = await db
      .selectFrom('deposits')
      .selectAll()
      .where('chain', '=', chain)
      .where('tx_hash', 'in', slice)
      .execute();
    for (const r of rows) found.set(`${r.tx_hash}:${r.tx_log_ordinal}`, r);
  }
  return found;
}

export async function insertDeposits(db: Db, rows: readonly NewDeposit[]): Promise<void> {
  for (const slice of chunks(rows)) await db.insertInto('deposits').values(slice).execute();
}

/** A deposit re-included in another block after a reorganisation: pending again, at its new place. */
export async function moveDepositToBlock(
  db: Db,
  id: number,
  at: { log_index: number; block_number: number; block_hash: string },
  now: number,
): Promise<void> {
  await db
    .updateTable('deposits')
    .set({ status: 'pending', orphaned_at: null, ...at, updated_at: now })
    .where('id', '=', id)
    .execute();
}

/** Pending deposits in blocks up to `deepest` (deep enough to be final), in chain order. */
export async function pendingDepositsBelow(db: Db, chain: string, deepest: number): Promise<DepositRow[]> {
  return db
    .selectFrom('deposits')
    .selectAll()
    .where('chain', '=', chain)
    .where('status', '=', 'pending')
    .where('block_number', '<=', deepest)
    .orderBy('block_number')
    .orderBy('log_index')
    .execute();
}

/** Orphaned deposits whose removal is at or below `deepest`: gone for good. */
export async function orphanedDepositsBelow(db: Db, chain: string, deepest: number): Promise<DepositRow[]> {
  return db
    .selectFrom('deposits')
    .selectAll()
    .where('chain', '=', chain)
    .where('status', '=', 'orphaned')
    .where('orphaned_at', '<=', deepest)
    .orderBy('id')
    .execute();
}

export async function setDepositStatus(
  db: Db,
  ids: readonly number[],
  status: DepositStatus,
  now: number,
): Promise<void> {
  for (const slice of chunks(ids)) {
    await db.updateTable('deposits').set({ status, updated_at: now }).where('id', 'in', slice).execute();
  }
}

/** Deposits in `status` at or above block `from`: what a reorganisation from there affects. */
export async function depositsFromBlock(
  db: Db,
  chain: string,
  status: DepositStatus,
  from: number,
): Promise<Pick<DepositRow, 'tx_hash' | 'tx_log_ordinal' | 'block_number'>[]> {
  return db
    .selectFrom('deposits')
    .select(['tx_hash', 'tx_log_ordinal', 'block_number'])
    .where('chain', '=', chain)
    .where('status', '=', status)
    .where('block_number', '>=', from)
    .execute();
}

/** Pending deposits at or above `firstRemoved` become orphaned; resolves how many. */
export async function orphanPendingFrom(
  db: Db,
  chain: string,
  firstRemoved: number,
  now: number,
): Promise<number> {
  const result = await db
    .updateTable('deposits')
    .set({ status: 'orphaned', orphaned_at: firstRemoved, updated_at: now })
    .where('chain', '=', chain)
    .where('status', '=', 'pending')
    .where('block_number', '>=', firstRemoved)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
