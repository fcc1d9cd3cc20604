import { createPublicClient, http, type PublicClient } from 'viem';
import { defaultOptions, type PayoutOptions } from '../internal/options.js';

/**
 * The payout side's node client: requests made together (balances, estimates, receipts of a pass) go
 * out as one JSON-RPC batch; no retries of its own (the worker's pass is retried as a whole) and no
 * block-number cache (a pass must see the head the node has now).
 */
export function createPayoutClient(
  rpcUrl: string,
  options: Pick<PayoutOptions, 'rpcBatchSize' | 'rpcTimeoutMs'> = defaultOptions.payouts,
): PublicClient {
  return createPublicClient({
    transport: http(rpcUrl, {
      batch: { batchSize: options.rpcBatchSize, wait: 0 },
      retryCount: 0,
      timeout: options.rpcTimeoutMs,
    }),
    cacheTime: 0,
  }) as PublicClient;
}
