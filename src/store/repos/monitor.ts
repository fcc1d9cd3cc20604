import { REQUEST_REFUSAL_CODES } from '../../protocol/errors.js';
import type { Database, Db, DepositStatus, PayoutState } from '../schema.js';

/**
 * The reads behind /metrics and the status page. Each one is an index range: counts by chain and state
 * use deposits(chain, status, block_number) and payouts(chain_name, state, created_at); service-wide
 * reads use payouts(state, created_at) and the primary keys; lists are LIMIT-ed reads of one state at a
 * time in index order, merged here, so no query sorts or scans a whole table.
 */

export const ACTIVE_DEPOSIT_STATUSES = ['pending', 'orphaned'] as const satisfies DepositStatus[];
export const FINAL_DEPOSIT_STATUSES = ['confirmed', 'failed'] as const satisfies DepositStatus[];

/**
 * Refusals of a malformed request, and the decisions of the withdrawal policies and of the operator:
 * the business's input and rules, not the service failing (failure rate).
 */
const REFUSAL_CODES: readonly string[] = [...REQUEST_REFUSAL_CODES, 'policy_violation', 'rejected'];

export interface DepositView {
  id: number;
  /** The configured chain name. */
  chain: string;
  symbol: string;
  tokenAddress: string;
  address: string;
  from: string;
  amountRaw: string;
  txHash: string;
  block: number;
  status: DepositStatus;
  createdAt: number;
  updatedAt: number;
}

export interface PayoutView {
  queueId: string;
  /** The configured chain name (the request's spelling may differ in letter case). */
  chain: string;
  kind: string;
  orderId: string | null;
  symbol: string;
  from: string;
  to: string;
  sender: string | null;
  amount: string;
  state: PayoutState;
  txHash: string | null;
  error: string | null;
  createdAt: number;
  updatedAt: number;
}

/** The payouts column holding the configured chain name (migration 0009). */
const PAYOUT_CHAIN = 'chain_name' as const;

export function createMonitorQueries(db: Db) {
  const depositColumns = [
    'id',
    'chain',
    'symbol',
    'token_address',
    'to_address',
    'from_address',
    'amount_raw',
    'tx_hash',
    'block_number',
    'status',
    'created_at',
    'updated_at',
  ] as const;
  const payoutColumns = [
    'queue_id',
    PAYOUT_CHAIN,
    'kind',
    'order_id',
    'symbol',
    'from_address',
    'to_address',
    'sender',
    'amount_text',
    'state',
    'tx_hash',
    'error_code',
    'created_at',
    'updated_at',
  ] as const;

  type DepositPick = Pick<Database['deposits'], Exclude<(typeof depositColumns)[number], 'id'>> & {
    id: number;
  };
  type PayoutPick = Pick<Database['payouts'], (typeof payoutColumns)[number]>;

  const depositView = (r: DepositPick): DepositView => ({
    id: Number(r.id),
    chain: r.chain,
    symbol: r.symbol,
    tokenAddress: r.token_address,
    address: r.to_address,
    from: r.from_address,
    amountRaw: r.amount_raw,
    txHash: r.tx_hash,
    block: Number(r.block_number),
    status: r.status,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  });
  const payoutView = (r: PayoutPick): PayoutView => ({
    queueId: r.queue_id,
    chain: r[PAYOUT_CHAIN],
    kind: r.kind,
    orderId: r.order_id,
    symbol: r.symbol,
    from: r.from_address,
    to: r.to_address,
    sender: r.sender,
    amount: r.amount_text,
    state: r.state,
    txHash: r.tx_hash,
    error: r.error_code,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  });

  /** Up to `limit` payouts of each state in created_at order, merged: one index range per state. */
  async function payoutsByStates(states: readonly PayoutState[], order: 'asc' | 'desc', limit: number) {
    const lists: PayoutPick[][] = [];
    for (const state of states) {
      lists.push(
        await db
          .selectFrom('payouts')
          .select(payoutColumns)
          .where('state', '=', state)
          .orderBy('created_at', order)
          .limit(limit)
          .execute(),
      );
    }
    const sign = order === 'asc' ? 1 : -1;
    return lists
      .flat()
      .map(payoutView)
      .sort((a, b) => sign * (a.createdAt - b.createdAt))
      .slice(0, limit);
  }

  return {
    /** One chain's deposits in `statuses`, counted by status. */
    async countDeposits(
      chain: string,
      statuses: readonly DepositStatus[],
    ): Promise<Map<DepositStatus, number>> {
      const rows = await db
        .selectFrom('deposits')
        .select(['status', (eb) => eb.fn.countAll().as('n')])
        .where('chain', '=', chain)
        .where('status', 'in', statuses)
        .groupBy('status')
        .execute();
      const counts = new Map(statuses.map((s) => [s, 0]));
      for (const r of rows) counts.set(r.status, Number(r.n));
      return counts;
    },

    /** One chain's payouts in `states`, counted by state. */
    async countPayouts(chain: string, states: readonly PayoutState[]): Promise<Map<PayoutState, number>> {
      const rows = await db
        .selectFrom('payouts')
        .select(['state', (eb) => eb.fn.countAll().as('n')])
        .where(PAYOUT_CHAIN, '=', chain)
        .where('state', 'in', states)
        .groupBy('state')
        .execute();
      const counts = new Map(states.map((s) => [s, 0]));
      for (const r of rows) counts.set(r.state, Number(r.n));
      return counts;
    },

    /**
     * Deposits not final yet on these chains: each chain's oldest blocks first, then merged oldest seen
     * first (block numbers of two chains do not compare).
     */
    async pendingDeposits(chains: readonly string[], limit: number): Promise<DepositView[]> {
      const lists: DepositPick[][] = [];
      for (const chain of chains) {
        for (const status of ACTIVE_DEPOSIT_STATUSES) {
          lists.push(
            await db
              .selectFrom('deposits')
              .select(depositColumns)
              .where('chain', '=', chain)
              .where('status', '=', status)
              .orderBy('block_number')
              .limit(limit)
              .execute(),
          );
        }
      }
      return lists
        .flat()
        .map(depositView)
        .sort((a, b) => a.createdAt - b.createdAt || a.id - b.id)
        .slice(0, limit);
    },

    /** When the oldest payout in `states` was created (ms), or undefined when there is none. */
    async oldestPayoutCreatedAt(states: readonly PayoutState[]): Promise<number | undefined> {
      let oldest: number | undefined;
      // One index range per state (payouts(state, created_at)), its first row.
      for (const state of states) {
        const row = await db
          .selectFrom('payouts')
          .select('created_at')
          .where('state', '=', state)
          .orderBy('created_at')
          .limit(1)
          .executeTakeFirst();
        if (row && (oldest === undefined || Number(row.created_at) < oldest)) oldest = Number(row.created_at);
      }
      return oldest;
    },

    /** Payouts in `states` (those not final yet) on any chain, oldest first. */
    pendingPayouts: (states: readonly PayoutState[], limit: number) => payoutsByStates(states, 'asc', limit),

    /** The last deposits seen on any chain, newest first (by primary key). */
    async recentDeposits(limit: number): Promise<DepositView[]> {
      const rows = await db
        .selectFrom('deposits')
        .select(depositColumns)
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      return rows.map(depositView);
    },

    /** The last payouts requested on any chain in any of `states` (pass all of them), newest first. */
    recentPayouts: (states: readonly PayoutState[], limit: number) => payoutsByStates(states, 'desc', limit),

    /**
     * Failed / (failed + confirmed) among payouts created since `sinceMs`, request refusals left out;
     * undefined below `minSamples` finished payouts (one failure out of two is no trend).
     */
    async payoutFailureRatio(sinceMs: number, minSamples: number): Promise<number | undefined> {
      const confirmed = await db
        .selectFrom('payouts')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('state', '=', 'confirmed')
        .where('created_at', '>=', sinceMs)
        .executeTakeFirst();
      const failed = await db
        .selectFrom('payouts')
        .select(['error_code', (eb) => eb.fn.countAll().as('n')])
        .where('state', '=', 'failed')
        .where('created_at', '>=', sinceMs)
        .groupBy('error_code')
        .execute();
      const ok = Number(confirmed?.n ?? 0);
      const bad = failed
        .filter((r) => !REFUSAL_CODES.includes(r.error_code ?? ''))
        .reduce((sum, r) => sum + Number(r.n), 0);
      if (ok + bad < minSamples) return undefined;
      return bad / (ok + bad);
    },
  };
}

export type MonitorQueries = ReturnType<typeof createMonitorQueries>;
