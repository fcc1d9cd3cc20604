import { type Insertable, type Kysely, sql } from 'kysely';
import { PaymentError } from '../internal/errors.js';
import { driverOf } from './dialect.js';
import type { Database } from './schema.js';

/** MySQL's code for the "Duplicate entry" warning INSERT IGNORE leaves for each skipped row. */
const ER_DUP_ENTRY = 1062;

/**
 * Inserts rows, skipping those that collide with a primary key or unique index; resolves to how many
 * were inserted. Works on `db` or inside a transaction (`trx`).
 *
 * SQLite: `ON CONFLICT DO NOTHING`, which skips only key conflicts. MySQL: `INSERT IGNORE`, which
 * also turns other errors (an over-long value, a NULL) into warnings and stores a mangled row; so
 * the warnings are counted, and any beyond one per skipped row fail the call. Outside a
 * transaction it opens one, so that failure leaves nothing written.
 */
export async function insertIgnore<T extends keyof Database & string>(
  db: Kysely<Database>,
  table: T,
  values: Insertable<Database[T]> | readonly Insertable<Database[T]>[],
): Promise<number> {
  const rows = (Array.isArray(values) ? values : [values]) as Insertable<Database[T]>[];
  if (rows.length === 0) return 0;
  // kysely cannot check `values` against a table chosen by a type parameter; the signature does.
  const untyped = db as unknown as Kysely<Record<string, Record<string, unknown>>>;
  if (driverOf(db) === 'sqlite') {
    const result = await untyped
      .insertInto(table)
      .values(rows)
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n);
  }
  const run = async (trx: Kysely<Record<string, Record<string, unknown>>>): Promise<number> => {
    const result = await trx.insertInto(table).ignore().values(rows).executeTakeFirst();
    const inserted = Number(result.numInsertedOrUpdatedRows ?? 0n);
    // Reading @@warning_count does not reset it; it must run on the same connection, next.
    const count = await sql<{ n: number }>`select @@warning_count as n`.execute(trx);
    if ((count.rows[0]?.n ?? 0) > rows.length - inserted) {
      const warnings = await sql<{ Code: number; Message: string }>`show warnings`.execute(trx);
      const other = warnings.rows.filter((w) => w.Code !== ER_DUP_ENTRY).map((w) => w.Message);
      throw new PaymentError('db_insert_rejected', `insert into ${table} was not clean`, {
        details: other.join('; '),
      });
    }
    return inserted;
  };
  return db.isTransaction ? run(untyped) : untyped.transaction().execute(run);
}
