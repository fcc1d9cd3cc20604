import type { Db } from '../schema.js';
import { dbNowMs } from './leases.js';

/**
 * `instances`: the running service processes on this database, each writing its heartbeat (database
 * time, like the leases). Written by src/cluster/instances.ts, read by the status page.
 */

export interface InstanceInfo {
  id: string;
  host: string;
  pid: number;
  http_addr: string | null;
  started_at: number;
  heartbeat_at: number;
}

/** Adds this instance, or writes its row again (e.g. after an operator removed it). */
export async function upsertInstance(
  db: Db,
  row: { id: string; host: string; pid: number; http_addr: string | null },
): Promise<void> {
  const now = dbNowMs(db);
  const updated = await db
    .updateTable('instances')
    .set({ heartbeat_at: now, http_addr: row.http_addr })
    .where('id', '=', row.id)
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 1) return;
  await db
    .insertInto('instances')
    .values({ ...row, started_at: now, heartbeat_at: now })
    .execute();
}

/** Writes the heartbeat; false when the row is gone (it must be written again). */
export async function beatInstance(db: Db, id: string): Promise<boolean> {
  const result = await db
    .updateTable('instances')
    .set({ heartbeat_at: dbNowMs(db) })
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function removeInstance(db: Db, id: string): Promise<void> {
  await db.deleteFrom('instances').where('id', '=', id).execute();
}

/** Rows whose heartbeat is older than `olderThanMs`: instances that died without a clean stop. */
export async function removeDeadInstances(db: Db, olderThanMs: number): Promise<number> {
  const result = await db
    .deleteFrom('instances')
    .where((eb) => eb('heartbeat_at', '<', eb.parens(dbNowMs(db), '-', olderThanMs)))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Instances whose heartbeat is at most `staleMs` old, oldest start first. */
export async function listLiveInstances(db: Db, staleMs: number): Promise<InstanceInfo[]> {
  const rows = await db
    .selectFrom('instances')
    .selectAll()
    .where((eb) => eb('heartbeat_at', '>=', eb.parens(dbNowMs(db), '-', staleMs)))
    .orderBy('started_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({
    ...r,
    pid: Number(r.pid),
    started_at: Number(r.started_at),
    heartbeat_at: Number(r.heartbeat_at),
  }));
}
