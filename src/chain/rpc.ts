import { createPublicClient, type Hex, HttpRequestError, http, type PublicClient, toHex } from 'viem';
import type { Common } from '../context/common.js';
import { PaymentError, sleep, walkCauses } from '../internal/errors.js';
import { redactUrls } from '../internal/redact.js';

/** A block header as the watcher needs it. */
export interface BlockHeader {
  number: number;
  hash: Hex;
  parentHash: Hex;
  timestamp: number;
  /** The bloom of every log of the block: what eth_getLogs answers for it is checked against it. */
  logsBloom: Hex;
}

/** A raw log as eth_getLogs returns it. */
export interface RpcLog {
  address: Hex;
  topics: Hex[];
  data: Hex;
  blockNumber: Hex;
  blockHash: Hex;
  transactionHash: Hex;
  logIndex: Hex;
  removed?: boolean;
}

export interface ChainRpc {
  /** viem public client (HTTP, no block-number cache) for reads outside the watcher (balances). */
  client: PublicClient;
  getBlockNumber(): Promise<number>;
  getBlockHeader(number: number): Promise<BlockHeader | null>;
  getLogsByBlockHash(blockHash: Hex, addresses: Hex[], topic0: Hex): Promise<RpcLog[]>;
  /** Every log of the block, unfiltered: what its `logsBloom` is made of. */
  getAllLogsOfBlock(blockHash: Hex): Promise<RpcLog[]>;
  getLogsByRange(fromBlock: number, toBlock: number, addresses: Hex[], topic0: Hex): Promise<RpcLog[]>;
  getChainId(): Promise<number>;
  /** Any other JSON-RPC call, with the same retries and errors as the ones above. */
  request<T>(method: string, params: unknown[]): Promise<T>;
  /** Time of the last successful call (ms), for /ready. */
  lastOkAt(): number;
}

/** Whether `err` failed in transport: a status a provider sheds load with, or no answer at all. */
function isTransportFailure(err: unknown): boolean {
  const http = walkCauses(err, (e) => e instanceof HttpRequestError) as HttpRequestError | undefined;
  if (!http) return false;
  return http.status === undefined || http.status === 408 || http.status === 429 || http.status >= 500;
}

/**
 * JSON-RPC over HTTP. Raw requests where the watcher wants speed and exact control of null answers.
 * A failure in transport is tried again (`options.rpc.transportRetries`, doubling waits); a call that
 * still fails counts in `metrics.rpcError` and throws a retryable `rpc_error` whose message names the
 * method, never the URL (provider API keys live in it); viem's error, URL and all, is only its cause.
 */
export function createChainRpc(
  common: Pick<Common, 'options' | 'metrics'>,
  deps: { rpcUrl: string },
): ChainRpc {
  const client = createPublicClient({
    transport: http(deps.rpcUrl, {
      retryCount: 0,
      timeout: common.options.rpc.timeoutMs,
      // Backfill ranges of busy tokens can answer with more than viem's 10 MB default; the range size, not
      // this limit, is what keeps answers bounded (it shrinks when the node refuses).
      maxResponseBodySize: 256 * 1024 * 1024,
    }),
    cacheTime: 0,
    pollingInterval: 1_000,
  });
  let lastOk = 0;

  async function call<T>(method: string, params: unknown[]): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        // biome-ignore lint/suspicious/noExplicitAny: raw JSON-RPC passthrough
        const result = (await client.request({ method: method as any, params: params as any })) as T;
        lastOk = Date.now();
        return result;
      } catch (err) {
        const { transportRetries, transportRetryMs } = common.options.rpc;
        if (attempt >= transportRetries || !isTransportFailure(err)) throw failed(method, err);
        await sleep(transportRetryMs * 2 ** attempt);
      }
    }
  }

  function failed(method: string, err: unknown): PaymentError {
    common.metrics.rpcError(method);
    return new PaymentError('rpc_error', `${method} failed: ${redactUrls(shortMessage(err))}`, {
      cause: err,
      retryable: true,
    });
  }

  return {
    client: client as PublicClient,
    async getBlockNumber() {
      return Number(BigInt(await call<Hex>('eth_blockNumber', [])));
    },
    async getBlockHeader(number) {
      const block = await call<{
        number: Hex;
        hash: Hex;
        parentHash: Hex;
        timestamp: Hex;
        logsBloom: Hex;
      } | null>('eth_getBlockByNumber', [toHex(number), false]);
      if (!block) return null;
      return {
        number: Number(BigInt(block.number)),
        hash: block.hash.toLowerCase() as Hex,
        parentHash: block.parentHash.toLowerCase() as Hex,
        timestamp: Number(BigInt(block.timestamp)),
        logsBloom: block.logsBloom.toLowerCase() as Hex,
      };
    },
    getLogsByBlockHash(blockHash, addresses, topic0) {
      return call<RpcLog[]>('eth_getLogs', [{ blockHash, address: addresses, topics: [topic0] }]);
    },
    getAllLogsOfBlock(blockHash) {
      return call<RpcLog[]>('eth_getLogs', [{ blockHash }]);
    },
    getLogsByRange(fromBlock, toBlock, addresses, topic0) {
      return call<RpcLog[]>('eth_getLogs', [
        { fromBlock: toHex(fromBlock), toBlock: toHex(toBlock), address: addresses, topics: [topic0] },
      ]);
    },
    async getChainId() {
      return Number(BigInt(await call<Hex>('eth_chainId', [])));
    },
    request: call,
    lastOkAt: () => lastOk,
  };
}

function shortMessage(err: unknown): string {
  if (err && typeof err === 'object' && 'shortMessage' in err && typeof err.shortMessage === 'string') {
    return err.shortMessage;
  }
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}
