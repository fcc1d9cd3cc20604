import type { AuditLogRow } from '../store/schema.js';

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
