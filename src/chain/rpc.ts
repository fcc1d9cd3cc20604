import {
  createPublicClient,
  fallback,
  type Hex,
  HttpRequestError,
  http,
  type PublicClient,
  TimeoutError,
  toHex,
} from 'viem';
import type { Common } from '../context/common.js';
import { PaymentError, sleep, walkCauses } from '../internal/errors.js';
import { redactUrls } from '../internal/redact.js';
import { createNodePin, type RpcNode } from './rpc-pin.js';

export type { RpcNode } from './rpc-pin.js';

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
  /**
   * viem public client (HTTP, no block-number cache) for reads outside the watcher (balances); over
   * several nodes, viem's `fallback` in configured order.
   */
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
  /**
   * Called by the watcher where no answer is half used: at the start of each pass. Only here does the
   * node the calls go to change (several `rpcUrls`): to the next one after a node failed (until then,
   * every call fails at once), or back to a preferred one that answers again. Never throws, never waits.
   */
  atSafePoint(): void;
  /** The node the calls go to now. */
  currentNode(): RpcNode;
  /** The node in use failed: every call fails until the next safe point moves to another node. */
  nodeFailing(): boolean;
}

/** Whether `err` failed in transport: a status a provider sheds load with, or no answer at all. */
function isTransportFailure(err: unknown): boolean {
  const http = walkCauses(err, (e) => e instanceof HttpRequestError) as HttpRequestError | undefined;
  if (!http) return false;
  return http.status === undefined || http.status === 408 || http.status === 429 || http.status >= 500;
}

/**
 * Whether `err` says the node is in trouble, not the question: a failure in transport, or a timeout of a
 * call whose cost does not depend on what was asked (an eth_getLogs range may take long on a sound node;
 * the backfill shrinks it).
 */
function isNodeFailure(method: string, params: unknown[], err: unknown): boolean {
  if (isTransportFailure(err)) return true;
  if (walkCauses(err, (e) => e instanceof TimeoutError) === undefined) return false;
  const filter = params[0];
  return !(method === 'eth_getLogs' && filter && typeof filter === 'object' && 'fromBlock' in filter);
}

export interface ChainRpcDeps {
  /** The chain's nodes in order of preference (`ChainConfig.rpcUrls`), or its one node. */
  rpcUrls?: readonly string[];
  rpcUrl?: string;
  /** The chain's name, in the log lines of node moves. */
  chain?: string;
}

/**
 * JSON-RPC over HTTP. Raw requests where the watcher wants speed and exact control of null answers.
 * A failure in transport is tried again (`options.rpc.transportRetries`, doubling waits); a call that
 * still fails counts in `metrics.rpcError` and throws a retryable `rpc_error` whose message names the
 * method, never the URL (provider API keys live in it); viem's error, URL and all, is only its cause.
 * With several nodes, every call goes to one of them at a time and a node that fails is left at the
 * watcher's next safe point (`rpc-pin.ts`): the watcher starts its pass again from its stored cursor on
 * the next node, so the answers of one block always come from one node.
 */
export function createChainRpc(
  common: Pick<Common, 'options' | 'metrics'> & Partial<Pick<Common, 'logger'>>,
  deps: ChainRpcDeps,
): ChainRpc {
  const urls = deps.rpcUrls?.length ? deps.rpcUrls : deps.rpcUrl ? [deps.rpcUrl] : [];
  if (urls.length === 0) throw new Error('createChainRpc: no node URL');
  const transports = urls.map((url) =>
    http(url, {
      retryCount: 0,
      timeout: common.options.rpc.timeoutMs,
      // Backfill ranges of busy tokens can answer with more than viem's 10 MB default; the range size, not
      // this limit, is what keeps answers bounded (it shrinks when the node refuses).
      maxResponseBodySize: 256 * 1024 * 1024,
    }),
  );
  const clientOf = (transport: (typeof transports)[number] | ReturnType<typeof fallback>) =>
    createPublicClient({ transport, cacheTime: 0, pollingInterval: 1_000 }) as PublicClient;
  const nodes = urls.map((url, i) => ({ host: redactUrls(url), client: clientOf(transports[i]!) }));
  const pin = createNodePin(
    { nodes, logger: common.logger?.child({ component: 'rpc', chain: deps.chain }) },
    common.options.rpc,
  );
  let lastOk = 0;

  async function call<T>(method: string, params: unknown[]): Promise<T> {
    const { node, pin: at } = pin.current();
    for (let attempt = 0; ; attempt++) {
      if (pin.isFailing() || pin.pin() !== at) throw notSent(method);
      let result: T;
      try {
        // biome-ignore lint/suspicious/noExplicitAny: raw JSON-RPC passthrough
        result = (await node.client.request({ method: method as any, params: params as any })) as T;
      } catch (err) {
        const { transportRetries, transportRetryMs } = common.options.rpc;
        if (attempt < transportRetries && isTransportFailure(err)) {
          await sleep(transportRetryMs * 2 ** attempt);
          continue;
        }
        if (isNodeFailure(method, params, err)) pin.failed(at);
        throw failed(method, err);
      }
      // Answered by a node the calls have left since: it must not meet the new node's answers.
      if (pin.pin() !== at) throw notSent(method);
      lastOk = Date.now();
      return result;
    }
  }

  /** A call not sent (or its answer not used) because the node it was for failed or was left. */
  function notSent(method: string): PaymentError {
    return new PaymentError('rpc_error', `${method} not used: the node failed or was left; next pass`, {
      retryable: true,
    });
  }

  function failed(method: string, err: unknown): PaymentError {
    common.metrics.rpcError(method);
    return new PaymentError('rpc_error', `${method} failed: ${redactUrls(shortMessage(err))}`, {
      cause: err,
      retryable: true,
    });
  }

  return {
    client: nodes.length === 1 ? nodes[0]!.client : clientOf(fallback(transports, { retryCount: 0 })),
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
    atSafePoint: pin.atSafePoint,
    currentNode: pin.info,
    nodeFailing: pin.isFailing,
  };
}

function shortMessage(err: unknown): string {
  if (err && typeof err === 'object' && 'shortMessage' in err && typeof err.shortMessage === 'string') {
    return err.shortMessage;
  }
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}
