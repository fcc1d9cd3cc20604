/**
 * Batch payouts in a chaos run (PROTOCOL §2.13): the batcher deployed from the collection wallet before the
 * service starts, the chain's `batch` section, and, after the run, what verify-batches.ts needs: the
 * service's batches and the payouts they carried from the database, and the canonical transactions from
 * the collection wallet to the batcher, read from anvil directly (not through the faulty node).
 */
import type { Address, Hash, Hex } from 'viem';
import type { DatabaseHandle } from '../src/store/db.js';
import type { TestChain } from '../test/helpers/chain.js';

/**
 * Only the collection wallet's share of the workload is batched (one payout in five, spread over the
 * faulty phase): a wait of 15 s gathers a few of them into each batch even at the small size, and a
 * batch of 10 is sent at once, so some batches go out by size and some by time.
 */
export const BATCH = { maxSize: 10, maxWaitMs: 15_000 } as const;

/** The `batch` object of the chain's JSON config. */
export function batchSection(batcher: Address): Record<string, unknown> {
  return { enabled: true, address: batcher, maxSize: BATCH.maxSize, maxWaitMs: BATCH.maxWaitMs };
}

export interface BatchRow {
  queue_id: string;
  state: string;
  tx_hash: string | null;
  reverted: number;
  error_code: string | null;
}

export interface BatchMemberRow {
  queue_id: string;
  state: string;
  batch_id: string;
}

export interface BatchRecords {
  batches: BatchRow[];
  /** Withdrawals and payments that a batch carries or carried, by queue_id. */
  members: Map<string, BatchMemberRow>;
  /** Every transaction signed for a batch: hash (lowercase) → the batch's queue_id. */
  txs: Map<string, string>;
}

export async function readBatches(view: DatabaseHandle): Promise<BatchRecords> {
  const batches = await view.db
    .selectFrom('payouts')
    .select(['queue_id', 'state', 'tx_hash', 'reverted', 'error_code'])
    .where('kind', '=', 'batch')
    .execute();
  const members = await view.db
    .selectFrom('payouts')
    .select(['queue_id', 'state', 'batch_id'])
    .where('batch_id', 'is not', null)
    .execute();
  const txRows = await view.db
    .selectFrom('payout_txs')
    .innerJoin('payouts', 'payouts.queue_id', 'payout_txs.queue_id')
    .select(['payout_txs.tx_hash as tx_hash', 'payout_txs.queue_id as queue_id'])
    .where('payouts.kind', '=', 'batch')
    .execute();
  return {
    batches: batches.map((b) => ({ ...b, tx_hash: b.tx_hash?.toLowerCase() ?? null })),
    members: new Map(members.map((m) => [m.queue_id, { ...m, batch_id: m.batch_id ?? '' }])),
    txs: new Map(txRows.map((r) => [r.tx_hash.toLowerCase(), r.queue_id])),
  };
}

/** A canonical transaction from the collection wallet to the batcher. */
export interface BatcherChainTx {
  hash: Hash;
  input: Hex;
  blockNumber: number;
  /** 'success' or 'reverted', from its receipt. */
  status: string;
}

/** Every canonical transaction from `fromBlock` that the collection wallet sent to the batcher, in chain order. */
export async function batcherChainTxs(
  chain: TestChain,
  fromBlock: number,
  collection: Address,
  batcher: Address,
): Promise<BatcherChainTx[]> {
  const head = Number(await chain.blockNumber());
  const out: BatcherChainTx[] = [];
  for (let n = fromBlock; n <= head; n++) {
    const block = await chain.publicClient.getBlock({ blockNumber: BigInt(n), includeTransactions: true });
    for (const tx of block.transactions) {
      if (tx.from.toLowerCase() !== collection.toLowerCase()) continue;
      if ((tx.to ?? '').toLowerCase() !== batcher.toLowerCase()) continue;
      const receipt = await chain.publicClient.getTransactionReceipt({ hash: tx.hash });
      out.push({
        hash: tx.hash.toLowerCase() as Hash,
        input: tx.input,
        blockNumber: n,
        status: receipt.status,
      });
    }
  }
  return out;
}
