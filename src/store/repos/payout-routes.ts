import { sql } from 'kysely';
import { chunks } from '../../internal/options.js';
import type { Db, PayoutRow, PayoutState } from '../schema.js';

/**
 * `payouts.route` (migration 0014): the wallet whose sender lease owns each payout (src/payouts/claims.ts).
 * Routing is its own concern beside the payouts' other queries (payouts.ts): which payouts have no wallet
 * yet, the wallets with work, and a payout routed on to the wallet that pays it.
 */

/** A chain's payouts not routed to a wallet yet, in a state an engine still works on. */
export async function unroutedPayouts(
  db: Db,
  chainName: string,
  states: readonly PayoutState[],
  limit: number,
): Promise<Pick<PayoutRow, 'queue_id' | 'kind' | 'from_address' | 'sender'>[]> {
  return db
    .selectFrom('payouts')
    .select(['queue_id', 'kind', 'from_address', 'sender'])
    .where('chain_name', '=', chainName)
    .where('route', 'is', null)
    .where('state', 'in', states)
    .limit(limit)
    .execute();
}

/** Routes payouts that have no route yet to `route` (a payout routed meanwhile keeps its route). */
export async function setPayoutRoutes(db: Db, queueIds: readonly string[], route: string): Promise<void> {
  for (const slice of chunks(queueIds)) {
    await db
      .updateTable('payouts')
      .set({ route })
      .where('queue_id', 'in', slice)
      .where('route', 'is', null)
      .execute();
  }
}

/**
 * Routes an accepted payout on from the wallet `from` to `to` (the other wallet that may pay it);
 * conditional on its state and version, raised, like every move. Resolves whether it was.
 */
export async function reroutePayout(
  db: Db,
  row: Pick<PayoutRow, 'queue_id' | 'version'>,
  from: string,
  to: string,
): Promise<boolean> {
  const updated = await db
    .updateTable('payouts')
    .set({ route: to, version: sql<number>`version + 1` })
    .where('queue_id', '=', row.queue_id)
    .where('state', '=', 'accepted')
    .where('version', '=', row.version)
    .where('route', '=', from)
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
}

/** The wallets with payouts of the chain in `states`: the sender leases someone must hold. */
export async function walletsWithPayouts(
  db: Db,
  chainName: string,
  states: readonly PayoutState[],
): Promise<string[]> {
  const rows = await db
    .selectFrom('payouts')
    .select('route')
    .distinct()
    .where('chain_name', '=', chainName)
    .where('state', 'in', states)
    .where('route', 'is not', null)
    .execute();
  return rows.map((r) => r.route!);
}
