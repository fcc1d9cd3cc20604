/**
 * The invariants of batch payouts in a run (PROTOCOL §2.13), checked against the canonical chain (the
 * transactions from the collection wallet to the batcher, their calldata and the token's Transfer logs in
 * them), the service's database and every answer the business received. The members of a batch are read
 * from its calldata (each payment's ref is keccak256 of its queue_id), not from the service's records:
 *
 * - each batch is mined at most once, each payout is carried by at most one mined batch, and every
 *   transaction to the batcher is one the service signed for a batch (`batch_double_sends`);
 * - a confirmed batch is recorded with the hash the chain has, and every answer of its members names that
 *   hash (`batch_wrong_hash`);
 * - each member of a mined batch is answered exactly once (`batch_member_answers`);
 * - a member is `status 1` and `confirmed` exactly when the batch's transaction holds the Transfer
 *   collection wallet → its recipient of its amount, and the calldata pays what was asked
 *   (`batch_wrong_members`).
 *
 * The per-payout invariants of verify.ts (one transfer, one answer) hold for batched payouts as well. A
 * batch that failed (reverted whole, or refused before any node had it) is counted, not a failure: its
 * payouts are then answered `reverted`, or paid one by one, and those checks hold for them.
 */
import { type Address, decodeFunctionData, type Hex } from 'viem';
import { batcherAbi, batchRef } from '../src/batch/contract.js';
import { isJsonObject, parseJsonLossless } from '../src/protocol/json.js';
import type { ReceivedMessage } from '../test/helpers/rabbit.js';
import type { BatcherChainTx, BatchRecords } from './batches.js';
import type { TransferLog } from './chain.js';
import type { PayoutRequest, Verdict } from './verify.js';

export const batchFailureFigures = [
  'batch_double_sends',
  'batch_wrong_hash',
  'batch_member_answers',
  'batch_wrong_members',
] as const;

export interface BatchVerifyInput {
  /** The collection wallet, lowercase. */
  collection: Address;
  records: BatchRecords;
  chainTxs: BatcherChainTx[];
  /** Canonical Transfer logs of the token since the setup. */
  transfers: TransferLog[];
  payouts: PayoutRequest[];
  answers: { withdraw: ReceivedMessage[]; pay: ReceivedMessage[] };
}

const str = (v: unknown) => (v === undefined || v === null ? '' : String(v));

/** The payments a batch transaction's calldata names; undefined when it is not a `batchTransfer`. */
function paymentsOf(input: Hex): { to: string; amount: bigint; ref: string }[] | undefined {
  try {
    const call = decodeFunctionData({ abi: batcherAbi, data: input });
    if (call.functionName !== 'batchTransfer') return undefined;
    const [, to, amounts, refs] = call.args;
    return refs.map((ref, i) => ({
      to: str(to[i]).toLowerCase(),
      amount: amounts[i] ?? -1n,
      ref: ref.toLowerCase(),
    }));
  } catch {
    return undefined;
  }
}

export function verifyBatches(input: BatchVerifyInput): Verdict {
  const figures: Record<string, number> = Object.fromEntries(batchFailureFigures.map((f) => [f, 0]));
  for (const f of ['batches_confirmed', 'batches_failed', 'batches_reverted', 'payouts_batched'])
    figures[f] = 0;
  const failures: string[] = [];
  let passed = 0;
  const check = (ok: boolean, figure: (typeof batchFailureFigures)[number], what: () => string) => {
    if (ok) {
      passed++;
      return;
    }
    figures[figure] = (figures[figure] ?? 0) + 1;
    failures.push(what());
  };
  const { records, collection } = input;
  const byRef = new Map(input.payouts.map((p) => [batchRef(p.queueId).toLowerCase(), p]));
  // Each payout's distinct answers (an identical redelivery is one; verify.ts counts those).
  const answers = new Map<string, Map<string, Record<string, unknown>>>();
  for (const m of [...input.answers.withdraw, ...input.answers.pay]) {
    let msg: unknown;
    try {
      msg = parseJsonLossless(m.text);
    } catch {
      continue; // verify.ts counts it as unsigned
    }
    if (!isJsonObject(msg)) continue;
    const id = str(msg.queue_id);
    const copies = answers.get(id) ?? new Map<string, Record<string, unknown>>();
    copies.set(`${str(m.properties.messageId)}\n${m.text}`, msg);
    answers.set(id, copies);
  }

  // The chain's batches: whose each is, and which payouts each carries.
  const minedBy = new Map<string, BatcherChainTx[]>();
  const carriedBy = new Map<string, string[]>();
  for (const tx of input.chainTxs) {
    const batchId = records.txs.get(tx.hash);
    check(
      batchId !== undefined,
      'batch_double_sends',
      () =>
        `tx ${tx.hash} (block ${tx.blockNumber}) from the collection wallet to the batcher: no batch signed it`,
    );
    if (batchId !== undefined) minedBy.set(batchId, [...(minedBy.get(batchId) ?? []), tx]);
    const payments = paymentsOf(tx.input);
    check(
      payments !== undefined,
      'batch_wrong_members',
      () => `tx ${tx.hash} to the batcher is no batchTransfer`,
    );
    if (tx.status === 'reverted') figures.batches_reverted = (figures.batches_reverted ?? 0) + 1;
    for (const pay of payments ?? []) {
      carriedBy.set(pay.ref, [...(carriedBy.get(pay.ref) ?? []), tx.hash]);
      const p = byRef.get(pay.ref);
      check(
        p !== undefined,
        'batch_wrong_members',
        () => `tx ${tx.hash} pays ref ${pay.ref}: no payout of the run`,
      );
      if (!p) continue;
      figures.payouts_batched = (figures.payouts_batched ?? 0) + 1;
      const where = `payout ${p.queueId} to ${p.to} in batch ${batchId ?? '?'} tx ${tx.hash}`;
      check(
        pay.to === p.to.toLowerCase() && pay.amount === p.raw,
        'batch_wrong_members',
        () => `${where}: the calldata pays ${pay.amount} to ${pay.to}, ${p.raw} was asked`,
      );
      const paid = input.transfers.some(
        (t) =>
          t.txHash === tx.hash && t.from === collection && t.to === p.to.toLowerCase() && t.value === p.raw,
      );
      const copies = [...(answers.get(p.queueId)?.values() ?? [])];
      check(
        copies.length === 1,
        'batch_member_answers',
        () =>
          `${where}: ${copies.length} different answers: ${copies.map((c) => JSON.stringify(c)).join(' | ')}`,
      );
      for (const c of copies) {
        check(
          str(c.tx_hash).toLowerCase() === tx.hash,
          'batch_wrong_hash',
          () => `${where}: answered with tx ${str(c.tx_hash)}`,
        );
        check(
          (str(c.status) === '1') === paid,
          'batch_wrong_members',
          () =>
            `${where}: answered ${str(c.status)} (${str(c.error)}), the tx ${paid ? 'pays it' : 'does not pay it'}`,
        );
      }
      const row = records.members.get(p.queueId);
      check(
        row !== undefined && row.batch_id === batchId && row.state === (paid ? 'confirmed' : 'failed'),
        'batch_wrong_members',
        () =>
          `${where}: recorded ${row ? `${row.state} in batch ${row.batch_id}` : 'nowhere'}, the tx ${paid ? 'pays it' : 'does not pay it'}`,
      );
    }
  }
  for (const [ref, txs] of carriedBy)
    check(
      txs.length <= 1,
      'batch_double_sends',
      () =>
        `payout ${byRef.get(ref)?.queueId ?? ref} carried by ${txs.length} mined batches: ${txs.join(' ')}`,
    );

  for (const b of records.batches) {
    const mined = minedBy.get(b.queue_id) ?? [];
    check(
      mined.length <= 1,
      'batch_double_sends',
      () => `batch ${b.queue_id}: mined ${mined.length} times: ${mined.map((t) => t.hash).join(' ')}`,
    );
    if (b.state === 'confirmed') {
      figures.batches_confirmed = (figures.batches_confirmed ?? 0) + 1;
      check(
        mined.length === 1 && mined[0]!.hash === b.tx_hash,
        'batch_wrong_hash',
        () =>
          `batch ${b.queue_id}: confirmed with tx ${b.tx_hash}, the chain has ${mined.map((t) => t.hash).join(' ') || 'none'}`,
      );
    }
    if (b.state === 'failed') figures.batches_failed = (figures.batches_failed ?? 0) + 1;
  }
  return { figures, passed, failed: failures.length, failures };
}
