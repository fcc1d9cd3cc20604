import { decodeEventLog, type Hex } from 'viem';
import { type BatchItem, batcherAbi } from './contract.js';

/** A receipt's logs, as viem or a raw eth_getTransactionReceipt gives them. */
export interface ReceiptLogs {
  logs?: readonly { address: string; topics: readonly Hex[]; data: Hex }[];
}

/** What the batcher reported of one payment: `paid` from its Transferred event, else TransferFailed. */
export interface BatchOutcome {
  ref: Hex;
  to: Hex;
  amountRaw: bigint;
  paid: boolean;
}

/**
 * The batcher's events in `receipt`, in log order: one per payment of the batch. Logs of other
 * contracts (the token's Transfer logs) and of another batcher are left out.
 */
export function decodeBatchOutcomes(receipt: ReceiptLogs, batcher: string): BatchOutcome[] {
  const outcomes: BatchOutcome[] = [];
  for (const log of receipt.logs ?? []) {
    if (log.address.toLowerCase() !== batcher.toLowerCase()) continue;
    const [signature, ...args] = log.topics;
    if (!signature) continue;
    let event: ReturnType<typeof decodeEventLog<typeof batcherAbi>>;
    try {
      event = decodeEventLog({ abi: batcherAbi, topics: [signature, ...args], data: log.data, strict: true });
    } catch {
      // The batcher emits only its two events; anything else is not a payment's outcome.
      continue;
    }
    if (event.eventName !== 'Transferred' && event.eventName !== 'TransferFailed') continue;
    const { ref, to, amount } = event.args;
    outcomes.push({
      ref: ref.toLowerCase() as Hex,
      to: to.toLowerCase() as Hex,
      amountRaw: amount,
      paid: event.eventName === 'Transferred',
    });
  }
  return outcomes;
}

/**
 * Each payment of a mined batch: `paid` or `failed` as its event says; `missing` when the receipt has
 * no event for it, or one whose recipient or amount differ from what was sent (then the receipt is not
 * this batch's, and nothing about the payment may be concluded from it).
 */
export type BatchSettlement = BatchItem & { outcome: 'paid' | 'failed' | 'missing' };

export function settleBatch(
  items: readonly BatchItem[],
  receipt: ReceiptLogs,
  batcher: string,
): BatchSettlement[] {
  const byRef = new Map<string, BatchOutcome[]>();
  for (const o of decodeBatchOutcomes(receipt, batcher)) byRef.set(o.ref, [...(byRef.get(o.ref) ?? []), o]);
  return items.map((item) => {
    const found = byRef.get(item.ref.toLowerCase()) ?? [];
    const [only] = found;
    const matches =
      found.length === 1 &&
      only !== undefined &&
      only.to === item.to.toLowerCase() &&
      only.amountRaw === item.amountRaw;
    if (!matches || !only) return { ...item, outcome: 'missing' as const };
    return { ...item, outcome: only.paid ? ('paid' as const) : ('failed' as const) };
  });
}
