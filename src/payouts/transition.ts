import type { Transaction, Updateable } from 'kysely';
import { type AuditEntry, recordAudit } from '../audit/record.js';
import type { Database, PayoutRow, PayoutTable } from '../store/schema.js';

/**
 * Moves one payout on from the state it was read in, inside `trx`, and appends its audit entry. Resolves
 * false, writing nothing, when the payout is no longer in that state (another pass moved it first): the
 * caller then must not write the side effects of the move either (a response, above all).
 */
export async function moveState(
  trx: Transaction<Database>,
  row: Pick<PayoutRow, 'queue_id' | 'state'>,
  set: Updateable<PayoutTable>,
  audit: AuditEntry,
  now: number,
): Promise<boolean> {
  const updated = await trx
    .updateTable('payouts')
    .set({ ...set, updated_at: now })
    .where('queue_id', '=', row.queue_id)
    .where('state', '=', row.state)
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) !== 1) return false;
  await recordAudit(trx, [audit], now);
  return true;
}
