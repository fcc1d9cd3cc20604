import type { Hex, PublicClient } from 'viem';
import { assetsOf } from '../config/chains.js';
import type { ChainConfig, NativeCoinConfig, TokenConfig } from '../config/types.js';
import type { Common } from '../context/common.js';
import { backoffMs } from '../internal/backoff.js';
import { isRetryable, sleep } from '../internal/errors.js';
import { createPayoutClient } from './payout-client.js';
import { type ChainRpc, createChainRpc } from './rpc.js';

/**
 * One chain as the parts see it: its name in the messages, chain id, node clients, tokens,
 * confirmations, collection wallet and fee settings. The watcher, the deposit tracker and the payout
 * engine each take one, so a second chain is a second context.
 */
export interface ChainContext {
  /** The `chain` value of messages this chain answers to: "ETH". */
  name: string;
  chainId: number;
  tokens: readonly TokenConfig[];
  /** The chain's own coin: deposits of it are top-level value transfers, payouts of it plain value transfers. */
  native: NativeCoinConfig;
  /** What `symbol` may name on this chain: the tokens, then the native coin at `NATIVE_ADDRESS_LC`. */
  assets: readonly TokenConfig[];
  confirmHeight: number;
  /** Lowercase collection (hot) wallet, when configured. */
  collectionAddressLc: Hex | undefined;
  /** maxFeePerGas (or the legacy gas price) of a payout never goes above it. */
  maxFeePerGasWei: bigint;
  /** A payout not mined after this many blocks is replaced with higher fees. */
  replaceAfterBlocks: number;
  wsUrl: string | undefined;
  /** Every configured node, in order of preference (the first is `rpcUrl`, `wsUrl`). */
  rpcUrls: readonly string[];
  wsUrls: readonly string[];
  /** The watcher's node client: raw calls, exact null answers, no cache. */
  rpc: ChainRpc;
  /** The payout side's node client: calls made together go out as one JSON-RPC batch. */
  client: PublicClient;
}

/**
 * Makes the context of `chain`. Its chain id is the configured one (a lane checks it against the
 * node before it makes the context: src/lane.ts), else the node's, read with `readChainId` (retried until
 * `signal` aborts).
 */
export async function createChainContext(
  common: Common,
  chain: ChainConfig,
  signal?: AbortSignal,
): Promise<ChainContext> {
  const rpc = createChainRpc(common, { rpcUrls: chain.rpcUrls, chain: chain.name });
  return {
    name: chain.name,
    chainId: chain.chainId ?? (await readChainId(common, { name: chain.name, rpc }, signal)),
    tokens: chain.tokens,
    native: chain.native,
    assets: assetsOf(chain),
    confirmHeight: chain.confirmHeight,
    collectionAddressLc: chain.collectionAddressLc,
    maxFeePerGasWei: chain.maxFeePerGasWei,
    replaceAfterBlocks: chain.replaceAfterBlocks,
    wsUrl: chain.wsUrl || undefined,
    rpcUrls: chain.rpcUrls,
    wsUrls: chain.wsUrls,
    rpc,
    client: createPayoutClient(chain.rpcUrls, common.options.payouts, common.stop),
  };
}

/**
 * The node's chain id. A node that fails the call (down, a 429, a timeout) is asked again with the
 * backoff, one warning per attempt, until it answers or `signal` aborts (then the last error is thrown):
 * a node's bad moment at start must not stop the service. An error that is not retryable is thrown.
 */
export async function readChainId(
  common: Pick<Common, 'logger'>,
  chain: Pick<ChainContext, 'name' | 'rpc'>,
  signal?: AbortSignal,
): Promise<number> {
  for (let failures = 1; ; failures++) {
    try {
      return await chain.rpc.getChainId();
    } catch (err) {
      if (!isRetryable(err) || signal?.aborted) throw err;
      const retryInMs = backoffMs(failures);
      common.logger.warn(
        { err, chain: chain.name, attempt: failures, retryInMs },
        'could not read the chain id from the node; retrying',
      );
      await sleep(retryInMs, signal);
      if (signal?.aborted) throw err;
    }
  }
}
