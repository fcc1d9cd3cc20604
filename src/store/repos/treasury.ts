import { chunks } from '../../internal/options.js';
import type { Db, PayoutKind, PayoutRow, PayoutState } from '../schema.js';

/** The service's own transfers (src/treasury/): stored as payouts of these kinds, never answered. */
export const TREASURY_KINDS: readonly PayoutKind[] = ['sweep', 'gas_topup'];

const FINAL: readonly PayoutState[] = ['confirmed', 'failed'];

export type TreasuryPayout = Pick<
  PayoutRow,
  'queue_id' | 'kind' | 'state' | 'from_address' | 'to_address' | 'created_at'
>;

/** The wallet a treasury transfer is about: the one swept, or the one topped up. */
export function walletOf(p: Pick<PayoutRow, 'kind' | 'from_address' | 'to_address'>): string {
  return p.kind === 'gas_topup' ? p.to_address : p.from_address;
}

/** One chain's treasury transfers not final yet (few: at most a round's worth). */
export async function activeTreasuryPayouts(db: Db, chainName: string): Promise<TreasuryPayout[]> {
  return db
    .selectFrom('payouts')
    .select(['queue_id', 'kind', 'state', 'from_address', 'to_address', 'created_at'])
    .where('chain_name', '=', chainName)
    .where('kind', 'in', TREASURY_KINDS)
    .where('state', 'not in', FINAL)
    .execute();
}

/**
 * The latest treasury transfer of each of `wallets` (lowercase) on the chain: a top-up to it or a sweep
 * from it. Read by the address indexes (payouts(to_address, created_at), payouts(from_address, created_at)).
 */
export async function latestTreasuryPayouts(
  db: Db,
  chainName: string,
  wallets: readonly string[],
): Promise<Map<string, TreasuryPayout>> {
  const latest = new Map<string, TreasuryPayout>();
  const keep = (p: TreasuryPayout) => {
    const wallet = walletOf(p);
    const seen = latest.get(wallet);
    if (!seen || p.created_at > seen.created_at) latest.set(wallet, p);
  };
  for (const slice of chunks(wallets)) {
    const columns = ['queue_id', 'kind', 'state', 'from_address', 'to_address', 'created_at'] as const;
    const [topUps, sweeps] = await Promise.all([
      db
        .selectFrom('payouts')
        .select(columns)
        .where('to_address', 'in', slice)
        .where('kind', '=', 'gas_topup')
        .where('chain_name', '=', chainName)
        .execute(),
      db
        .selectFrom('payouts')
        .select(columns)
        .where('from_address', 'in', slice)
        .where('kind', '=', 'sweep')
        .where('chain_name', '=', chainName)
        .execute(),
    ]);
    for (const p of [...topUps, ...sweeps]) keep(p);
  }
  return latest;
}

/** When the chain's latest sweep was stored, if ever: the status page's "last sweep". */
export async function lastSweepAt(db: Db, chainName: string): Promise<number | undefined> {
  const row = await db
    .selectFrom('payouts')
    .select((eb) => eb.fn.max('created_at').as('at'))
    .where('chain_name', '=', chainName)
    .where('kind', '=', 'sweep')
    .executeTakeFirst();
  return row?.at === null || row?.at === undefined ? undefined : Number(row.at);
}
