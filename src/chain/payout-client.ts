import { createPublicClient, fallback, http, type PublicClient } from 'viem';
import { defaultOptions, type PayoutOptions } from '../internal/options.js';

export type PayoutClientOptions = Pick<
  PayoutOptions,
  'rpcBatchSize' | 'rpcTimeoutMs' | 'rpcRankMs' | 'rpcRankSamples' | 'rpcRankTimeoutMs'
>;

/**
 * The payout side's node client: requests made together (balances, estimates, receipts of a pass) go
 * out as one JSON-RPC batch; a call the provider throttles or drops (HTTP 429, 5xx, a reset) is tried
 * twice more at once, as viem does, so a flaky provider does not fail the whole pass (a raw transaction
 * sent twice is the same transaction); no block-number cache (a pass must see the head the node has now).
 *
 * With several nodes (`rpcUrls`), viem's `fallback` over them, each with the behaviour above (its own
 * batches, retries and timeout): a call that still fails on one goes to the next (not a revert: that is
 * the transaction's answer, not the node's). The order is ranked: every `rpcRankMs` each node is asked
 * for its head, and calls go first to the one that answered most of the last `rpcRankSamples` asks, the
 * configured order among equals (stability only: a faster node is not preferred over the operator's
 * choice). The payout side tolerates answers of different nodes within a pass, as it does those of a
 * provider's lagging backends. Once `stop` aborts the asks end (viem's timer keeps ticking, idle).
 */
export function createPayoutClient(
  rpcUrls: string | readonly string[],
  options: PayoutClientOptions = defaultOptions.payouts,
  stop?: AbortSignal,
): PublicClient {
  const urls = typeof rpcUrls === 'string' ? [rpcUrls] : rpcUrls;
  const transports = urls.map((url) =>
    http(url, {
      batch: { batchSize: options.rpcBatchSize, wait: 0 },
      retryCount: 2,
      retryDelay: 100,
      timeout: options.rpcTimeoutMs,
    }),
  );
  const [only] = transports;
  if (!only) throw new Error('createPayoutClient: no node URL');
  const transport =
    transports.length === 1
      ? only
      : fallback(transports, {
          // Each node retries on its own. The list is tried once more as a whole only because the ranking
          // may reorder it in the middle of a call (viem reads the list by position at each step), which
          // can hand a call the node that just failed it instead of the one it has not tried.
          retryCount: 1,
          retryDelay: 100,
          rank: {
            interval: options.rpcRankMs,
            sampleCount: options.rpcRankSamples,
            timeout: options.rpcRankTimeoutMs,
            weights: { stability: 1, latency: 0 },
            async ping({ transport }) {
              if (stop?.aborted) return;
              await transport.request({ method: 'eth_blockNumber' });
            },
          },
        });
  return createPublicClient({ transport, cacheTime: 0 }) as PublicClient;
}
