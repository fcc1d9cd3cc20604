import { createPublicClient, http, type PublicClient } from 'viem';
import { defaultOptions, type PayoutOptions } from '../internal/options.js';

/**
 * The payout side's node client: requests made together (balances, estimates, receipts of a pass) go
 * out as one JSON-RPC batch; a call the provider throttles or drops (HTTP 429, 5xx, a reset) is tried
 * twice more at once, as viem does, so a flaky provider does not fail the whole pass (a raw transaction
 * sent twice is the same transaction); no block-number cache (a pass must see the head the node has now).
 */
export function createPayoutClient(
  rpcUrl: string,
  options: Pick<PayoutOptions, 'rpcBatchSize' | 'rpcTimeoutMs'> = defaultOptions.payouts,
): PublicClient {
  return createPublicClient({
    transport: http(rpcUrl, {
      batch: { batchSize: options.rpcBatchSize, wait: 0 },
      retryCount: 2,
      retryDelay: 100,
      timeout: options.rpcTimeoutMs,
    }),
    cacheTime: 0,
  }) as PublicClient;
}
