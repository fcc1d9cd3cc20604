import type { Kysely } from 'kysely';
import type { AuditLogRow, Database } from '../store/schema.js';

export type HistoryQuery = { queueId: string } | { txHash: string };

/**
 * The audit entries of one payout (by queue_id), or of every deposit and payout that a transaction
 * hash belongs to, oldest first. A payout is found by any hash it ever signed (payout_txs keeps a
 * replaced one too), a deposit by its transaction's hash.
 */
export async function readHistory(db: Kysely<Database>, query: HistoryQuery): Promise<AuditLogRow[]> {
  if ('queueId' in query) {
    return db
      .selectFrom('audit_log')
      .selectAll()
      .where('subject', '=', 'payout')
      .where('ref', '=', query.queueId)
      .orderBy('id')
      .execute();
  }
  const hash = query.txHash.toLowerCase();
  const [signed, audited] = await Promise.all([
    db.selectFrom('payout_txs').select('queue_id').where('tx_hash', '=', hash).execute(),
    db.selectFrom('audit_log').select(['subject', 'ref']).where('tx_hash', '=', hash).execute(),
  ]);
  const payouts = new Set([
    ...signed.map((r) => r.queue_id),
    ...audited.filter((r) => r.subject === 'payout').map((r) => r.ref),
  ]);
  const deposits = new Set(audited.filter((r) => r.subject === 'deposit').map((r) => r.ref));
  if (payouts.size === 0 && deposits.size === 0) return [];
  return db
    .selectFrom('audit_log')
    .selectAll()
    .where((eb) =>
      eb.or([
        ...(payouts.size ? [eb.and([eb('subject', '=', 'payout'), eb('ref', 'in', [...payouts])])] : []),
        ...(deposits.size ? [eb.and([eb('subject', '=', 'deposit'), eb('ref', 'in', [...deposits])])] : []),
      ]),
    )
    .orderBy('id')
    .execute();
}

/** One line per entry: time, subject and ref, from → to, tx hash, block, detail. */
export function formatHistoryLine(row: AuditLogRow): string {
  const parts = [
    new Date(Number(row.created_at)).toISOString(),
    `${row.subject} ${row.ref}`,
    `${row.from_state ?? '(new)'} → ${row.to_state}`,
    `tx ${row.tx_hash ?? '-'}`,
    `block ${row.block_number ?? '-'}`,
  ];
  if (row.detail) parts.push(row.detail);
  return parts.join('  ');
}

/** The entry for `--json`: numbers as numbers, the detail parsed back when it is JSON. */
export function historyJson(row: AuditLogRow) {
  let detail: unknown = row.detail;
  if (row.detail?.startsWith('{')) {
    try {
      detail = JSON.parse(row.detail);
    } catch {
      // A detail cut at its length limit stays text.
    }
  }
  return {
    id: Number(row.id),
    at: new Date(Number(row.created_at)).toISOString(),
    subject: row.subject,
    ref: row.ref,
    txHash: row.tx_hash,
    from: row.from_state,
    to: row.to_state,
    block: row.block_number === null ? null : Number(row.block_number),
    detail,
  };
}
