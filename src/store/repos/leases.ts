import { type Kysely, type RawBuilder, sql } from 'kysely';
import { chunks } from '../../internal/options.js';
import { driverOf } from '../dialect.js';
import { insertIgnore } from '../insert-ignore.js';
import type { Database, Db } from '../schema.js';

/**
 * `leases`: named work only one instance may do at a time (src/cluster/lease.ts). Every time in this
 * table is the database's clock, never an instance's: the instances' clocks may disagree, the database
 * is the one place that decides whether a lease has lapsed.
 */

/** The database's time in unix milliseconds, as an SQL expression. */
export function dbNowMs(db: { getExecutor: Kysely<Database>['getExecutor'] }): RawBuilder<number> {
  return driverOf(db) === 'mysql'
    ? sql<number>`cast(unix_timestamp(current_timestamp(3)) * 1000 as signed)`
    : sql<number>`cast((julianday('now') - 2440587.5) * 86400000 as integer)`;
}

/** The database's time now (unix ms). */
export async function readDbNow(db: Db): Promise<number> {
  const { rows } = await sql<{ now: number }>`select ${dbNowMs(db)} as now`.execute(db);
  return Number(rows[0]?.now);
}

/**
 * Takes the lease `name` for `holder` when nobody holds it, its holder let it lapse, or `holder` itself
 * holds it (a holder that stopped its work after it lost track of the lease, e.g. a renewal that landed
 * after it gave up, starts a new term at once); resolves to the new fencing token, or undefined when
 * another holder has it. The token is one more than the last one ever given for this name, so a write
 * fenced with an older token, of another holder or of an earlier term, is refused.
 */
export async function acquireLease(
  db: Db,
  name: string,
  holder: string,
  ttlMs: number,
): Promise<number | undefined> {
  await insertIgnore(db, 'leases', { name, holder: null, token: 0, expires_at: 0, acquired_at: 0 });
  return db.transaction().execute(async (trx) => {
    const now = dbNowMs(trx);
    const result = await trx
      .updateTable('leases')
      .set({
        holder,
        token: sql`token + 1`,
        expires_at: sql`${now} + ${ttlMs}`,
        acquired_at: now,
      })
      .where('name', '=', name)
      .where((eb) =>
        eb.or([eb('holder', 'is', null), eb('holder', '=', holder), eb('expires_at', '<=', now)]),
      )
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return undefined;
    // In the same transaction: the row stays locked (MySQL) or the database is (SQLite) until commit.
    const row = await trx
      .selectFrom('leases')
      .select('token')
      .where('name', '=', name)
      .executeTakeFirstOrThrow();
    return Number(row.token);
  });
}

/** Extends a held lease by `ttlMs` from now; false when `holder` no longer holds it under `token`. */
export async function renewLease(
  db: Db,
  name: string,
  holder: string,
  token: number,
  ttlMs: number,
): Promise<boolean> {
  const result = await db
    .updateTable('leases')
    .set({ expires_at: sql`${dbNowMs(db)} + ${ttlMs}` })
    .where('name', '=', name)
    .where('holder', '=', holder)
    .where('token', '=', token)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Gives a held lease up at once (a clean stop), so a standby need not wait for it to lapse. */
export async function releaseLease(db: Db, name: string, holder: string, token: number): Promise<void> {
  await db
    .updateTable('leases')
    .set({ holder: null, expires_at: 0 })
    .where('name', '=', name)
    .where('holder', '=', holder)
    .where('token', '=', token)
    .execute();
}

/**
 * The fencing check, inside a write transaction `trx`: whether `token` is still the lease's current
 * token. On MySQL the row is read `FOR UPDATE`, so a new holder's acquire waits until this transaction
 * has committed: a write that passed the check can never land after the takeover. (SQLite runs one
 * writing transaction at a time, which gives the same order.)
 *
 * Expiry is not checked here: a lapsed lease nobody took yet still has the holder's token, and no other
 * instance can have written under it, so the write is as safe as before it lapsed.
 */
export async function holds(trx: Db, name: string, token: number): Promise<boolean> {
  const query = trx.selectFrom('leases').select('token').where('name', '=', name);
  const row = await (driverOf(trx) === 'mysql' ? query.forUpdate() : query).executeTakeFirst();
  return row !== undefined && Number(row.token) === token;
}

export interface LeaseHolding {
  name: string;
  holder: string;
  token: number;
  expires_at: number;
}

/** Every lease held now (not lapsed, not released), by name. */
export async function listHeldLeases(db: Db): Promise<LeaseHolding[]> {
  const rows = await db
    .selectFrom('leases')
    .select(['name', 'holder', 'token', 'expires_at'])
    .where('holder', 'is not', null)
    .where('expires_at', '>', dbNowMs(db))
    .orderBy('name')
    .execute();
  return rows.map((r) => ({
    name: r.name,
    holder: r.holder ?? '',
    token: Number(r.token),
    expires_at: Number(r.expires_at),
  }));
}

/** Of the leases `names`, those held now (not lapsed, not released), with their holders. */
export async function heldAmong(db: Db, names: readonly string[]): Promise<Map<string, string>> {
  const held = new Map<string, string>();
  for (const slice of chunks(names)) {
    const rows = await db
      .selectFrom('leases')
      .select(['name', 'holder'])
      .where('name', 'in', slice)
      .where('holder', 'is not', null)
      .where('expires_at', '>', dbNowMs(db))
      .execute();
    for (const r of rows) held.set(r.name, r.holder ?? '');
  }
  return held;
}

/**
 * `holds` for several leases in one read: the current token of each of `names`, the rows locked `FOR
 * UPDATE` on MySQL for the rest of the transaction.
 */
export async function leaseTokens(trx: Db, names: readonly string[]): Promise<Map<string, number>> {
  const tokens = new Map<string, number>();
  for (const slice of chunks(names)) {
    const query = trx.selectFrom('leases').select(['name', 'token']).where('name', 'in', slice);
    const rows = await (driverOf(trx) === 'mysql' ? query.forUpdate() : query).execute();
    for (const r of rows) tokens.set(r.name, Number(r.token));
  }
  return tokens;
}

/** How many of the leases named `prefix…` each holder holds now (not lapsed, not released). */
export async function holdingsByHolder(db: Db, prefix: string): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('leases')
    .select(['holder', (eb) => eb.fn.countAll<number | string>().as('n')])
    .where('name', 'like', `${prefix}%`)
    .where('holder', 'is not', null)
    .where('expires_at', '>', dbNowMs(db))
    .groupBy('holder')
    .execute();
  return new Map(rows.map((r) => [r.holder ?? '', Number(r.n)]));
}
