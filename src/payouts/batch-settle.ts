import type { Address, Hex } from 'viem';
import { batchRef, settleBatch } from '../batch/index.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../internal/logger.js';
import { batchMembers } from '../store/repos/payouts.js';
import type { Db, PayoutRow } from '../store/schema.js';
import type { RawReceipt } from './chain.js';
import { type FeeCoin, failure, payoutResponse } from './respond.js';
import { movePayout } from './state.js';

/**
 * The withdrawals a batch carries (src/payouts/batches.ts) are settled with it, in the transaction that
 * moves the batch itself: each by its own event in the batch's receipt, with its own answer.
 */

export interface SettleDeps {
  rmq: Config['rmq'];
  signKey: string;
  chain: FeeCoin;
  /** Where a member the receipt says nothing about is reported. */
  logger?: Logger;
}

/** The batch's fee split over its members: equal shares, the wei left over one each to the first ones. */
export function feeShares(feeWei: bigint, count: number): bigint[] {
  if (count === 0) return [];
  const share = feeWei / BigInt(count);
  const left = Number(feeWei % BigInt(count));
  return Array.from({ length: count }, (_, i) => share + (i < left ? 1n : 0n));
}

/**
 * The batch `carrier` became final (`confirmed`: its receipt says which payments went through; `failed`:
 * it reverted, so none did). Each member moves `batched → confirmed | failed` with its answer: the batch's
 * transaction hash, its share of the fee, and its own status (`reverted` for a payment the token refused).
 * A member the receipt says nothing about stays `batched` and is logged: nothing may be concluded of it.
 */
export async function settleBatchMembers(
  trx: Db,
  deps: SettleDeps,
  carrier: PayoutRow,
  receipt: RawReceipt,
  state: 'confirmed' | 'failed',
  now: number,
): Promise<number> {
  const members = await batchMembers(trx, carrier.queue_id);
  const items = members.map((m) => ({
    to: m.to_address as Address,
    amountRaw: BigInt(m.amount_raw),
    ref: batchRef(m.queue_id),
  }));
  const outcomes =
    state === 'confirmed'
      ? settleBatch(items, receipt, carrier.to_address)
      : items.map((i) => ({ ...i, outcome: 'failed' as const }));
  const shares = feeShares(BigInt(carrier.fee_wei ?? '0'), members.length);
  const txHash = carrier.tx_hash as Hex;
  let settled = 0;
  for (const [i, member] of members.entries()) {
    const outcome = outcomes[i]!.outcome;
    if (outcome === 'missing') {
      deps.logger?.error(
        { queueId: member.queue_id, batch: carrier.queue_id, txHash },
        'the batch receipt has no event for this payout: left batched for the operator',
      );
      continue;
    }
    const paid = outcome === 'paid';
    const result = paid
      ? ({ status: 1 } as const)
      : failure(
          'reverted',
          state === 'failed'
            ? `batch transaction ${txHash} reverted in block ${carrier.mined_block}`
            : `the token refused the transfer to ${member.to_address} in batch transaction ${txHash}`,
        );
    const set = {
      sender: carrier.sender,
      nonce: carrier.nonce,
      tx_hash: txHash,
      mined_block: carrier.mined_block,
      mined_block_hash: carrier.mined_block_hash,
      fee_wei: shares[i]!.toString(),
      reverted: paid ? 0 : 1,
      ...(result.status === 0 ? { error_code: result.error, error_message: result.errorMessage } : {}),
    };
    const answer = payoutResponse(deps.rmq, deps.signKey, { ...member, ...set }, result, deps.chain);
    const moved = await movePayout(
      trx,
      member,
      {
        to: paid ? 'confirmed' : 'failed',
        set,
        audit: {
          txHash,
          blockNumber: carrier.mined_block,
          detail: { batch: carrier.queue_id, feeWei: set.fee_wei, ...(paid ? {} : { error: 'reverted' }) },
        },
        answer,
      },
      now,
    );
    // Rolls the batch's own move back with it: they are settled together or not at all.
    if (!moved) throw new Error(`payout ${member.queue_id} of batch ${carrier.queue_id} changed under it`);
    settled++;
  }
  return settled;
}

/**
 * The batch `carrier` failed before any node had it (refused at signing, or settled `not paid` by the
 * operator): nothing moved, so each member goes back to `accepted`, keeping its `batch_id`, which tells the
 * engine to pay it on its own this time.
 */
export async function releaseBatchMembers(
  trx: Db,
  carrier: Pick<PayoutRow, 'queue_id'>,
  reason: string,
  now: number,
) {
  for (const member of await batchMembers(trx, carrier.queue_id)) {
    const moved = await movePayout(
      trx,
      member,
      {
        to: 'accepted',
        set: { sender: null },
        audit: { detail: { batch: carrier.queue_id, released: reason } },
      },
      now,
    );
    if (!moved) throw new Error(`payout ${member.queue_id} of batch ${carrier.queue_id} changed under it`);
  }
}
