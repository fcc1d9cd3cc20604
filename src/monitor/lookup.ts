import { historyJson } from '../audit/history.js';
import { formatAmount } from '../money/amount.js';
import { readAddressActivity, readHistory } from '../store/repos/audit.js';
import type { Db } from '../store/schema.js';

/** Why a lookup query was refused: the HTTP route answers it 400 with this message. */
export class LookupInputError extends Error {}

export type LookupQuery =
  | { kind: 'tx_hash'; txHash: string }
  | { kind: 'address'; address: string }
  | { kind: 'queue_id'; queueId: string };

const QUERY_MAX = 200;
const HEX = /^0x[0-9a-fA-F]*$/;
const EXPECTED = 'a queue_id, a transaction hash (0x and 64 hex digits) or an address (0x and 40 hex digits)';

/**
 * What the text in the search box is: 0x and 64 hex digits a transaction hash, 0x and 40 an address,
 * anything else printable a payout's queue_id. A 0x-hex of another length is refused rather than
 * looked up as a queue_id: it is almost surely a hash or an address cut short.
 */
export function parseLookupQuery(raw: string | null | undefined): LookupQuery {
  const q = (raw ?? '').trim();
  if (!q) throw new LookupInputError(`q is empty: give ${EXPECTED}`);
  if (q.length > QUERY_MAX) throw new LookupInputError(`q is longer than ${QUERY_MAX} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(q)) throw new LookupInputError('q contains control characters');
  if (HEX.test(q)) {
    const digits = q.length - 2;
    if (digits === 64) return { kind: 'tx_hash', txHash: q.toLowerCase() };
    if (digits === 40) return { kind: 'address', address: q.toLowerCase() };
    throw new LookupInputError(`q is 0x and ${digits} hex digits: not ${EXPECTED}`);
  }
  return { kind: 'queue_id', queueId: q };
}

/** The JSON of GET /lookup?q=…: the audit history (the `audit` command's entries) or an address's activity. */
export async function lookup(
  db: Db,
  query: LookupQuery,
  limit: number,
  /** A deposit's asset decimals (its chain's token or native coin), to show its amount in whole units. */
  decimalsOf: (chain: string, tokenAddress: string) => number | undefined,
) {
  if (query.kind === 'address') {
    const { deposits, payouts } = await readAddressActivity(db, query.address, limit);
    return {
      query,
      limit,
      history: [],
      deposits: deposits.map((d) => ({
        chain: d.chain,
        symbol: d.symbol,
        tokenAddress: d.token_address,
        txHash: d.tx_hash,
        txLogOrdinal: Number(d.tx_log_ordinal),
        block: Number(d.block_number),
        from: d.from_address,
        to: d.to_address,
        amountRaw: d.amount_raw,
        amount: amountText(d.amount_raw, decimalsOf(d.chain, d.token_address)),
        status: d.status,
        at: new Date(Number(d.created_at)).toISOString(),
      })),
      payouts: payouts.map((p) => ({
        queueId: p.queue_id,
        kind: p.kind,
        chain: p.chain_name,
        symbol: p.symbol,
        from: p.from_address,
        to: p.to_address,
        sender: p.sender,
        amount: p.amount_text,
        state: p.state,
        txHash: p.tx_hash,
        error: p.error_code,
        at: new Date(Number(p.created_at)).toISOString(),
      })),
    };
  }
  const rows = await readHistory(
    db,
    query.kind === 'tx_hash' ? { txHash: query.txHash } : { queueId: query.queueId },
  );
  return { query, limit, history: rows.map(historyJson), deposits: [], payouts: [] };
}

export type LookupResult = Awaited<ReturnType<typeof lookup>>;

const amountText = (raw: string, decimals: number | undefined) =>
  decimals === undefined ? null : formatAmount(BigInt(raw), decimals);
