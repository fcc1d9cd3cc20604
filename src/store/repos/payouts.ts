import { sql, type Updateable } from 'kysely';
import { chunks } from '../../internal/options.js';
import { driverOf } from '../dialect.js';
import { insertIgnore } from '../insert-ignore.js';
import type { Db, NewPayout, PayoutRow, PayoutState, PayoutTable, PayoutTxRow } from '../schema.js';

/**
 * `payouts` (one row per withdrawal or payment, keyed by queue_id) and `payout_txs` (every transaction
 * signed for one: the first and each replacement). A payout's `state` is written only through
 * src/payouts/state.ts, which calls `updatePayoutIf` / `updatePayoutsIf` here.
 *
 * A payout engine runs per chain on each instance: every read that selects payouts to work on, and every
 * write that is not keyed by a queue_id the engine read from its own chain, names the chain (`chain_name`,
 * the configured name), so an engine never sees or moves another chain's payouts; and the reads name the
 * wallets (`route`) whose sender leases the instance holds, so it never works on another instance's.
 */

/** Stores a new request; resolves false, writing nothing, when its queue_id was seen before. */
export async function insertPayoutIfNew(db: Db, row: NewPayout): Promise<boolean> {
  return (await insertIgnore(db, 'payouts', row)) > 0;
}

export async function payoutByQueueId(db: Db, queueId: string): Promise<PayoutRow | undefined> {
  return db.selectFrom('payouts').selectAll().where('queue_id', '=', queueId).executeTakeFirst();
}

/**
 * A chain's payouts in one state, oldest first (then by queue_id, a stable order). With `routes`, only
 * the payouts of those wallets (the sender leases this instance holds, src/payouts/claims.ts).
 */
export async function payoutsInState(
  db: Db,
  chainName: string,
  state: PayoutState,
  limit?: number,
  routes?: readonly string[],
): Promise<PayoutRow[]> {
  if (routes?.length === 0) return [];
  const query = db
    .selectFrom('payouts')
    .selectAll()
    .where('chain_name', '=', chainName)
    .where('state', '=', state)
    .$if(routes !== undefined, (q) => q.where('route', 'in', routes!))
    .orderBy('created_at')
    .orderBy('queue_id');
  return (limit === undefined ? query : query.limit(limit)).execute();
}

/** A chain's payouts in any of `states` (with `routes`, only those wallets' payouts). */
export async function payoutsInStates(
  db: Db,
  chainName: string,
  states: readonly PayoutState[],
  routes?: readonly string[],
): Promise<PayoutRow[]> {
  if (routes?.length === 0) return [];
  return db
    .selectFrom('payouts')
    .selectAll()
    .where('chain_name', '=', chainName)
    .where('state', 'in', states)
    .$if(routes !== undefined, (q) => q.where('route', 'in', routes!))
    .execute();
}

/**
 * What a chain's payouts in `states` from these senders still take out of their balances there (a
 * wallet's balances are per chain). `token_address` is NATIVE_ADDRESS_LC for the native coin.
 */
export async function spendingOf(
  db: Db,
  chainName: string,
  senders: readonly string[],
  states: readonly PayoutState[],
): Promise<Pick<PayoutRow, 'sender' | 'token_address' | 'amount_raw' | 'gas_limit'>[]> {
  const out: Pick<PayoutRow, 'sender' | 'token_address' | 'amount_raw' | 'gas_limit'>[] = [];
  for (const slice of chunks(senders)) {
    out.push(
      ...(await db
        .selectFrom('payouts')
        .select(['sender', 'token_address', 'amount_raw', 'gas_limit'])
        .where('chain_name', '=', chainName)
        .where('state', 'in', states)
        .where('sender', 'in', slice)
        .execute()),
    );
  }
  return out;
}

/**
 * Updates one payout if it is still in `expected` at `version` (as it was read), raising the version;
 * resolves whether it was. The conditional move that src/payouts/state.ts builds every transition on: a
 * worker acting on an old read changes nothing, even if the payout came back to the same state since.
 */
export async function updatePayoutIf(
  db: Db,
  queueId: string,
  expected: { state: PayoutState; version: number },
  set: Updateable<PayoutTable>,
): Promise<boolean> {
  const updated = await db
    .updateTable('payouts')
    .set({ ...set, version: sql<number>`version + 1` })
    .where('queue_id', '=', queueId)
    .where('state', '=', expected.state)
    .where('version', '=', expected.version)
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
}

/**
 * Updates the chain's payouts whose current transaction is one of `txHashes` and that are still in
 * `expected`, raising their versions; resolves exactly which (locked first on MySQL, so the answer is the
 * set the update changed; SQLite serialises writers). The hash stands for the version: a payout re-signed
 * since it was read has another one.
 */
export async function updatePayoutsIf(
  db: Db,
  chainName: string,
  txHashes: readonly string[],
  expected: PayoutState,
  set: Updateable<PayoutTable>,
): Promise<string[]> {
  const moved: string[] = [];
  for (const slice of chunks(txHashes)) {
    const select = db
      .selectFrom('payouts')
      .select('queue_id')
      .where('chain_name', '=', chainName)
      .where('tx_hash', 'in', slice)
      .where('state', '=', expected);
    const still = (await (driverOf(db) === 'mysql' ? select.forUpdate() : select).execute()).map(
      (r) => r.queue_id,
    );
    if (still.length === 0) continue;
    await db
      .updateTable('payouts')
      .set({ ...set, version: sql<number>`version + 1` })
      .where('queue_id', 'in', still)
      .where('state', '=', expected)
      .execute();
    moved.push(...still);
  }
  return moved;
}

/** One payout of a bulk conditional update: as it was read, and the columns of its own it gets. */
export interface PayoutUpdate<C extends keyof PayoutTable> {
  queueId: string;
  version: number;
  own: { [K in C]: string | number | null };
}

/**
 * Updates each payout that is still in `expected` at the version it was read, each with its own values of
 * the columns `columns` (a `CASE queue_id …` per column) and all with `shared`, raising the versions: the
 * bulk form of `updatePayoutIf`, one statement per 500 payouts. Resolves how many were updated; fewer than
 * given means some were not, and the others were: the caller's transaction must then roll back.
 */
export async function updateEachPayoutIf<C extends keyof PayoutTable & string>(
  db: Db,
  expected: PayoutState,
  columns: readonly C[],
  updates: readonly PayoutUpdate<C>[],
  shared: Updateable<PayoutTable>,
): Promise<number> {
  let updated = 0;
  for (const slice of chunks(updates)) {
    const byQueueId = <T>(value: (u: PayoutUpdate<C>) => T) =>
      sql<T>`case ${sql.ref('queue_id')} ${sql.join(
        slice.map((u) => sql`when ${u.queueId} then ${value(u)}`),
        sql` `,
      )} end`;
    const own = Object.fromEntries(columns.map((c) => [c, byQueueId((u) => u.own[c])]));
    const versionAsRead = byQueueId((u) => u.version);
    const result = await db
      .updateTable('payouts')
      .set({ ...shared, ...own, version: sql<number>`version + 1` })
      .where(
        'queue_id',
        'in',
        slice.map((u) => u.queueId),
      )
      .where('state', '=', expected)
      .where('version', '=', versionAsRead)
      .executeTakeFirst();
    updated += Number(result.numUpdatedRows);
  }
  return updated;
}

/** Records the head at which a payout's transaction was last broadcast (replacement timing); no state change. */
export async function setLastSentBlock(db: Db, queueId: string, head: number): Promise<void> {
  await db.updateTable('payouts').set({ last_sent_block: head }).where('queue_id', '=', queueId).execute();
}

/** Every transaction signed for these payouts. */
export async function transactionsOfPayouts(db: Db, queueIds: readonly string[]): Promise<PayoutTxRow[]> {
  const out: PayoutTxRow[] = [];
  for (const slice of chunks(queueIds)) {
    out.push(...(await db.selectFrom('payout_txs').selectAll().where('queue_id', 'in', slice).execute()));
  }
  return out;
}

/** The stored signed transactions with these hashes, lowest nonce of each sender first. */
export async function signedTransactions(
  db: Db,
  hashes: readonly string[],
): Promise<Pick<PayoutTxRow, 'tx_hash' | 'raw_tx' | 'sender' | 'nonce'>[]> {
  const out: Pick<PayoutTxRow, 'tx_hash' | 'raw_tx' | 'sender' | 'nonce'>[] = [];
  for (const slice of chunks(hashes)) {
    out.push(
      ...(await db
        .selectFrom('payout_txs')
        .select(['tx_hash', 'raw_tx', 'sender', 'nonce'])
        .where('tx_hash', 'in', slice)
        .execute()),
    );
  }
  return out.sort((a, b) => (a.sender < b.sender ? -1 : a.sender > b.sender ? 1 : a.nonce - b.nonce));
}

/** Stores signed transactions; one that is stored already (the same bytes, so the same hash) is skipped. */
export async function insertPayoutTxs(db: Db, rows: readonly PayoutTxRow[]): Promise<void> {
  for (const slice of chunks(rows)) await insertIgnore(db, 'payout_txs', slice);
}

/**
 * What was requested of one asset of a chain since `sinceMs` (created_at) by payouts in `states` (the
 * caller passes every state but failed): in total, and from the wallet `fromLc` (the requested
 * from_address). Summed here in bigint, since amounts are decimal text of up to 78 digits that SQL would
 * sum through a double on SQLite. One index range per state (payouts(chain_name, state, created_at)).
 */
export async function requestedSince(
  db: Db,
  where: { chainName: string; tokenAddress: string; fromLc: string; sinceMs: number },
  states: readonly PayoutState[],
): Promise<{ totalRaw: bigint; fromRaw: bigint }> {
  const rows = await db
    .selectFrom('payouts')
    .select(['from_address', 'amount_raw'])
    .where('chain_name', '=', where.chainName)
    .where('state', 'in', states)
    .where('created_at', '>=', where.sinceMs)
    .where('token_address', '=', where.tokenAddress)
    // The treasury's own sweeps and top-ups are not requests: no limit counts them.
    .where('kind', 'in', ['withdraw', 'pay'])
    .execute();
  let totalRaw = 0n;
  let fromRaw = 0n;
  for (const r of rows) {
    const raw = BigInt(r.amount_raw);
    totalRaw += raw;
    if (r.from_address === where.fromLc) fromRaw += raw;
  }
  return { totalRaw, fromRaw };
}

/** How long a request waits for another's policy check on the same asset before it is retried. */
const POLICY_LOCK_TIMEOUT_S = 10;

/**
 * Runs `work` in a transaction that no other transaction run through here with the same `key` overlaps:
 * a check of what was requested and the insert that depends on it then see each other, so two requests
 * cannot both pass a daily limit.
 *
 * - SQLite: every transaction is `BEGIN IMMEDIATE` (src/store/sqlite.ts): writers are serialised already.
 * - MySQL: a plain read under REPEATABLE READ would not see the other's uncommitted insert, and locking
 *   reads of the range would deadlock on the gap both insert into. So the transaction runs on one pinned
 *   connection holding the named lock `GET_LOCK(m2pool-payment:policy:<hash of database and key>)`,
 *   taken before it begins and released after it commits (or with the connection, however it ends).
 *   Across processes too. Not obtained within 10 s: throws, and the request is retried.
 */
export async function inPolicyTransaction<T>(db: Db, key: string, work: (trx: Db) => Promise<T>): Promise<T> {
  if (driverOf(db) !== 'mysql') return db.transaction().execute(work);
  return db.connection().execute(async (conn) => {
    // Lock names are server-wide and at most 64 characters: the database and key, hashed.
    const name = sql`concat('m2pool-payment:policy:', left(sha1(concat(database(), ':', ${key})), 32))`;
    const got = await sql<{
      got: number | null;
    }>`select get_lock(${name}, ${POLICY_LOCK_TIMEOUT_S}) as got`.execute(conn);
    if (Number(got.rows[0]?.got) !== 1) {
      throw new Error(`the policy lock of ${key} was not obtained in ${POLICY_LOCK_TIMEOUT_S} s`);
    }
    try {
      return await conn.transaction().execute(work);
    } finally {
      await sql`select release_lock(${name})`.execute(conn);
    }
  });
}

/**
 * One chain's payouts in `states` that take funds from one of `wallets`: by their sender once chosen, else
 * by the wallet the request named (the sweep planner subtracts them from what it may sweep).
 */
export async function payoutsSpendingFrom(
  db: Db,
  chainName: string,
  wallets: readonly string[],
  states: readonly PayoutState[],
) {
  const rows: Pick<
    PayoutRow,
    'sender' | 'from_address' | 'token_address' | 'amount_raw' | 'gas_limit' | 'state' | 'mined_block'
  >[] = [];
  for (const slice of chunks(wallets)) {
    rows.push(
      ...(await db
        .selectFrom('payouts')
        .select([
          'sender',
          'from_address',
          'token_address',
          'amount_raw',
          'gas_limit',
          'state',
          'mined_block',
        ])
        .where('chain_name', '=', chainName)
        .where('state', 'in', states)
        .where((eb) =>
          eb.or([
            eb('sender', 'in', slice),
            eb.and([eb('sender', 'is', null), eb('from_address', 'in', slice)]),
          ]),
        )
        .execute()),
    );
  }
  return rows;
}

/**
 * Which of `hashes` (transactions seen on chain `chainName`) the service signed for its own treasury
 * transfers (a sweep, a gas top-up): the deposit tracker never reports them as deposits. Every such
 * transaction is stored before it is broadcast, so it is here before any block can hold it.
 */
export async function treasuryTransactionsAmong(
  db: Db,
  chainName: string,
  hashes: readonly string[],
): Promise<Set<string>> {
  const out = new Set<string>();
  for (const slice of chunks(hashes)) {
    const rows = await db
      .selectFrom('payout_txs')
      .innerJoin('payouts', 'payouts.queue_id', 'payout_txs.queue_id')
      .select('payout_txs.tx_hash')
      .where('payout_txs.chain_name', '=', chainName)
      .where('payout_txs.tx_hash', 'in', slice)
      .where('payouts.kind', 'in', ['sweep', 'gas_topup'])
      .execute();
    for (const r of rows) out.add(r.tx_hash);
  }
  return out;
}

/** The withdrawals and payments a batch carries, still waiting for it (`batched`), in their batch order. */
export async function batchMembers(db: Db, batchId: string): Promise<PayoutRow[]> {
  return db
    .selectFrom('payouts')
    .selectAll()
    .where('batch_id', '=', batchId)
    .where('state', '=', 'batched')
    .orderBy('created_at')
    .orderBy('queue_id')
    .execute();
}

/** A chain's `approve` payouts of `token` not final yet: while one is, no second is stored. */
export async function activeApprovals(db: Db, chainName: string, token: string): Promise<number> {
  const rows = await db
    .selectFrom('payouts')
    .select('queue_id')
    .where('chain_name', '=', chainName)
    .where('kind', '=', 'approve')
    .where('token_address', '=', token)
    .where('state', 'not in', ['confirmed', 'failed'])
    .execute();
  return rows.length;
}
