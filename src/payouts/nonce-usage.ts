import type { Hex, PublicClient } from 'viem';
import { errorMessage } from '../internal/errors.js';

/**
 * Which transaction used a payout's nonce, as far as the node can show it:
 * - `unused`: the sender's count at the latest block has not passed the nonce;
 * - `ours` / `foreign`: the transaction from the sender with that nonce, found in block `block`;
 * - `unknown`: the nonce is used but the node did not show by which transaction (a lagging or pruned
 *   backend, a block it does not have): never a reason to pay again.
 */
export type NonceUsage =
  | { kind: 'unused' }
  | { kind: 'ours' | 'foreign'; txHash: string; block: number; blockHash: string }
  | { kind: 'unknown'; why: string };

/**
 * Finds the block where the sender's transaction count passed `nonce` by bisecting the last `searchBlocks`
 * blocks (the state a non-archive node keeps: no archive needed), then the transaction in it.
 * `ourHashes` are every hash we signed under the nonce.
 */
export async function findNonceUsage(
  client: PublicClient,
  sender: Hex,
  nonce: number,
  ourHashes: readonly string[],
  head: number,
  searchBlocks: number,
): Promise<NonceUsage> {
  const countAt = (block: number) =>
    client.getTransactionCount({ address: sender, blockNumber: BigInt(block) });
  try {
    if ((await client.getTransactionCount({ address: sender, blockTag: 'latest' })) <= nonce) {
      return { kind: 'unused' };
    }
    let low = Math.max(0, head - searchBlocks);
    if ((await countAt(low)) > nonce) return { kind: 'unknown', why: `used before block ${low}` };
    let high = head;
    if ((await countAt(high)) <= nonce) return { kind: 'unknown', why: `not used yet at block ${high}` };
    // Invariant: count(low) <= nonce < count(high).
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if ((await countAt(middle)) > nonce) high = middle;
      else low = middle;
    }
    const block = await client.getBlock({ blockNumber: BigInt(high), includeTransactions: true });
    const tx = block.transactions.find((t) => t.from.toLowerCase() === sender && t.nonce === nonce);
    if (!tx) return { kind: 'unknown', why: `no transaction with the nonce in block ${high}` };
    const txHash = tx.hash.toLowerCase();
    const blockHash = (block.hash ?? '').toLowerCase();
    return { kind: ourHashes.includes(txHash) ? 'ours' : 'foreign', txHash, block: high, blockHash };
  } catch (err) {
    return { kind: 'unknown', why: errorMessage(err) };
  }
}
