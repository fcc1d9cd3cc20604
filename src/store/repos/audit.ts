import { chunks } from '../../internal/options.js';
import type { AuditLogRow, Db } from '../schema.js';

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
export async function recordAudit(trx: Db, entries: readonly AuditEntry[], now = Date.now()): Promise<void> {
  for (const slice of chunks(entries)) {
    await trx
      .insertInto('audit_log')
      .values(
        slice.map((e) => ({
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

export type HistoryQuery = { queueId: string } | { txHash: string };

/**
 * The audit entries of one payout (by queue_id), or of every deposit and payout that a transaction
 * hash belongs to, oldest first. A payout is found by any hash it ever signed (payout_txs keeps a
 * replaced one too), a deposit by its transaction's hash.
 */
export async function readHistory(db: Db, query: HistoryQuery): Promise<AuditLogRow[]> {
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

/**
 * An address's deposits (to it) and payouts (to or from it), newest first, at most `limit` of each:
 * the status page's lookup. Addresses are stored lowercase.
 */
export async function readAddressActivity(db: Db, address: string, limit: number) {
  const lc = address.toLowerCase();
  const deposits = await db
    .selectFrom('deposits')
    .select([
      'chain',
      'symbol',
      'token_address',
      'tx_hash',
      'tx_log_ordinal',
      'block_number',
      'from_address',
      'to_address',
      'amount_raw',
      'status',
      'created_at',
    ])
    .where('to_address', '=', lc)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  const payouts = await db
    .selectFrom('payouts')
    .select([
      'queue_id',
      'kind',
      'chain_name',
      'symbol',
      'from_address',
      'to_address',
      'sender',
      'amount_text',
      'state',
      'tx_hash',
      'error_code',
      'created_at',
    ])
    .where((eb) => eb.or([eb('to_address', '=', lc), eb('from_address', '=', lc), eb('sender', '=', lc)]))
    .orderBy('created_at', 'desc')
    .limit(limit)
    .execute();
  return { deposits, payouts };
}
