import type { Transaction } from 'kysely';
import type { Database } from '../store/schema.js';

export type AuditSubject = 'deposit' | 'payout';

/** One state change, as the code that makes it describes it. */
export interface AuditEntry {
  subject: AuditSubject;
  /** A payout's queue_id, or `depositRef(...)`. */
  ref: string;
  txHash?: string | null;
  /** Omitted when the change created the subject. */
  fromState?: string | null;
  toState: string;
  blockNumber?: number | null;
  /** Kept short: an object is stored as JSON (bigints as decimal text). */
  detail?: Record<string, unknown> | string | null;
}

/** Rows per statement: well under SQLite's and MySQL's placeholder limits (9 columns a row). */
const ROWS_PER_INSERT = 500;
const DETAIL_MAX = 1000;

/** A deposit's audit reference: its identity, stable when a reorganisation moves it to another block. */
export function depositRef(txHash: string, txLogOrdinal: number): string {
  return `${txHash}:${txLogOrdinal}`;
}

function detailText(detail: AuditEntry['detail']): string | null {
  if (detail === undefined || detail === null) return null;
  const text =
    typeof detail === 'string'
      ? detail
      : JSON.stringify(detail, (_key, value) => (typeof value === 'bigint' ? value.toString() : value));
  return text.length > DETAIL_MAX ? `${text.slice(0, DETAIL_MAX - 1)}…` : text;
}

/**
 * Appends entries to the audit log inside the caller's transaction, so each row commits exactly with
 * the state change it records (and vanishes with it on a rollback). The log is append-only: this
 * insert is the only write to it anywhere; nothing updates or deletes its rows.
 */
export async function recordAudit(
  trx: Transaction<Database>,
  entries: readonly AuditEntry[],
  now = Date.now(),
): Promise<void> {
  for (let i = 0; i < entries.length; i += ROWS_PER_INSERT) {
    await trx
      .insertInto('audit_log')
      .values(
        entries.slice(i, i + ROWS_PER_INSERT).map((e) => ({
          subject: e.subject,
          ref: e.ref,
          tx_hash: e.txHash ?? null,
          from_state: e.fromState ?? null,
          to_state: e.toState,
          block_number: e.blockNumber ?? null,
          detail: detailText(e.detail),
          created_at: now,
        })),
      )
      .execute();
  }
}
