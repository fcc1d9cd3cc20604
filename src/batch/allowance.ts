import { type Address, encodeFunctionData, type Hex, type PublicClient } from 'viem';
import { usdtAbi } from '../chain/token.js';

/** What the batcher may still draw of `token` from `owner` (the collection wallet). */
export function readBatcherAllowance(
  client: PublicClient,
  token: Address,
  owner: Address,
  batcher: Address,
): Promise<bigint> {
  return client.readContract({
    address: token,
    abi: usdtAbi,
    functionName: 'allowance',
    args: [owner, batcher],
  });
}

/** One `approve` the owner sends to the token, in order. */
export interface ApproveCall {
  /** The allowance this call sets. */
  value: bigint;
  data: Hex;
}

/**
 * The `approve` calls (to the token, from the owner) that let the batcher draw at least `needed`, given
 * the allowance is `current`: none when it already does; else set it to `target` (at least `needed`;
 * more lets several batches go on one approval). From a non-zero allowance it is first set to 0: mainnet
 * USDT refuses to change one non-zero allowance into another (its guard against the approve race), and
 * the two calls are harmless on tokens without that rule.
 */
export function allowanceCalls(
  batcher: Address,
  current: bigint,
  needed: bigint,
  target = needed,
): ApproveCall[] {
  if (needed < 0n || current < 0n) throw new Error('an allowance is never negative');
  if (target < needed) throw new Error(`approval target ${target} is below what the batch needs (${needed})`);
  if (current >= needed) return [];
  const approve = (value: bigint): ApproveCall => ({
    value,
    data: encodeFunctionData({ abi: usdtAbi, functionName: 'approve', args: [batcher, value] }),
  });
  return current === 0n ? [approve(target)] : [approve(0n), approve(target)];
}

/** What a batch draws in total: the sum of its amounts (a failed payment draws nothing, but may not fail). */
export function batchTotal(items: readonly { amountRaw: bigint }[]): bigint {
  return items.reduce((sum, i) => sum + i.amountRaw, 0n);
}
