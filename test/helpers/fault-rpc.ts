import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';

/** Probabilities 0..1 of each fault: per HTTP request (429, 503, drop, delay), per JSON-RPC call (lag),
 * per lagged eth_getLogs of a block the lagging backend lacks (headerNotFound), per second (wsCut). */
export interface FaultRates {
  http429: number;
  http503: number;
  drop: number;
  delay: number;
  lag: number;
  headerNotFound: number;
  wsCut: number;
}

export interface FaultRpcOptions {
  /** Seed of the PRNG that decides the faults. */
  seed: number;
  rates?: Partial<FaultRates>;
  /** How far the lagging backend is behind the node's head (default 3). */
  lagBlocks?: number;
  /** Range of an injected delay in ms (default [50, 300]). */
  delayMs?: [number, number];
  /**
   * Faults touch only these JSON-RPC methods (default: every method): an HTTP fault hits a request holding
   * at least one of them, `lag` only calls of them. E.g. `['eth_getLogs']`: a provider whose log index
   * lags behind its block headers.
   */
  methods?: string[];
}

export interface FaultRpc {
  httpUrl: string;
  wsUrl: string;
  /** Changes rates at run time (0 everywhere = transparent). */
  setRates(rates: Partial<FaultRates>): void;
  /** Faults injected so far, by kind: '429', '503', 'drop', 'delay', 'lag', 'header_not_found', 'ws_cut'. */
  counts(): Record<string, number>;
  close(): Promise<void>;
}

interface RpcCall {
  jsonrpc?: string;
  id: unknown;
  method: string;
  params?: unknown[];
}
interface RpcAnswer {
  jsonrpc: '2.0';
  id: unknown;
  result?: unknown;
  error?: { code: number; message: string };
}

const NO_FAULTS: FaultRates = {
  http429: 0,
  http503: 0,
  drop: 0,
  delay: 0,
  lag: 0,
  headerNotFound: 0,
  wsCut: 0,
};

/** mulberry32: a small seeded PRNG, so a run's faults follow from its seed and the order of calls. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * A JSON-RPC proxy (HTTP, single and batch, and WebSocket both ways) in front of a node that injects the
 * faults of hosted providers: HTTP 429 and 503, dropped connections, delays, a cut WebSocket, and answers
 * from a load-balanced backend that lags `lagBlocks` behind the head (see `answerLagging`). With every rate
 * at 0 it is transparent.
 */
export async function startFaultRpc(
  target: { httpUrl: string; wsUrl: string },
  options: FaultRpcOptions,
): Promise<FaultRpc> {
  const random = prng(options.seed);
  let rates: FaultRates = { ...NO_FAULTS, ...options.rates };
  const lagBlocks = options.lagBlocks ?? 3;
  const [delayMin, delayMax] = options.delayMs ?? [50, 300];
  const methods = options.methods && new Set(options.methods);
  const counted: Record<string, number> = {};
  const count = (kind: string) => {
    counted[kind] = (counted[kind] ?? 0) + 1;
  };
  const hit = (rate: number) => rate > 0 && random() < rate;
  const targeted = (method: string) => !methods || methods.has(method);

  async function upstream(body: string): Promise<string> {
    const res = await fetch(target.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    return res.text();
  }
  async function forward(call: RpcCall): Promise<RpcAnswer> {
    return JSON.parse(await upstream(JSON.stringify({ ...call, jsonrpc: '2.0' }))) as RpcAnswer;
  }
  async function upstreamResult<T>(method: string, params: unknown[]): Promise<T> {
    const answer = await forward({ id: 1, method, params });
    if (answer.error) throw new Error(`${method}: ${answer.error.message}`);
    return answer.result as T;
  }

  /** The answer of a backend whose chain ends at the node's head − lagBlocks. */
  async function answerLagging(call: RpcCall): Promise<RpcAnswer> {
    const head = Number(BigInt(await upstreamResult<string>('eth_blockNumber', [])));
    const lagHead = Math.max(0, head - lagBlocks);
    const params = call.params ?? [];
    const ok = (result: unknown): RpcAnswer => ({ jsonrpc: '2.0', id: call.id, result });
    const atLagHead = (tag: unknown): number | undefined => {
      if (tag === undefined || tag === 'latest' || tag === 'pending') return lagHead;
      if (tag === 'earliest') return 0;
      if (typeof tag === 'string' && tag.startsWith('0x')) return Number(BigInt(tag));
      return undefined; // safe, finalized, an object: as the node says
    };
    const numberOf = (block: unknown) =>
      block && typeof block === 'object' && 'number' in block ? Number(BigInt(block.number as string)) : 0;
    switch (call.method) {
      case 'eth_blockNumber':
        return ok(hex(lagHead));
      case 'eth_getBlockByNumber': {
        const n = atLagHead(params[0]);
        if (n === undefined) return forward(call);
        if (n > lagHead) return ok(null);
        return forward({ ...call, params: [hex(n), ...params.slice(1)] });
      }
      case 'eth_getBlockByHash': {
        const answer = await forward(call);
        return answer.result && numberOf(answer.result) > lagHead ? ok(null) : answer;
      }
      case 'eth_getLogs': {
        const filter = (params[0] ?? {}) as { blockHash?: string; fromBlock?: string; toBlock?: string };
        if (filter.blockHash) {
          const block = await upstreamResult<unknown>('eth_getBlockByHash', [filter.blockHash, false]);
          if (block && numberOf(block) <= lagHead) return forward(call);
          if (hit(rates.headerNotFound)) {
            count('header_not_found');
            return { jsonrpc: '2.0', id: call.id, error: { code: -32000, message: 'header not found' } };
          }
          return ok([]);
        }
        const from = atLagHead(filter.fromBlock ?? 'latest');
        const to = atLagHead(filter.toBlock ?? 'latest');
        if (from === undefined || to === undefined) return forward(call);
        if (from > lagHead) return ok([]);
        return forward({
          ...call,
          params: [{ ...filter, fromBlock: hex(from), toBlock: hex(Math.min(to, lagHead)) }],
        });
      }
      case 'eth_getTransactionReceipt': {
        const answer = await forward(call);
        const receipt = answer.result as { blockNumber?: string } | null | undefined;
        return receipt?.blockNumber && Number(BigInt(receipt.blockNumber)) > lagHead ? ok(null) : answer;
      }
      case 'eth_getTransactionCount': {
        if (params[1] !== 'latest' && params[1] !== 'pending' && params[1] !== undefined)
          return forward(call);
        return forward({ ...call, params: [params[0], hex(lagHead)] });
      }
      default:
        return forward(call);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let parsed: RpcCall | RpcCall[];
    try {
      parsed = JSON.parse(body) as RpcCall | RpcCall[];
    } catch {
      res.writeHead(400).end();
      return;
    }
    const calls = Array.isArray(parsed) ? parsed : [parsed];
    if (calls.some((c) => targeted(c.method))) {
      if (hit(rates.drop)) {
        count('drop');
        req.socket.destroy();
        return;
      }
      if (hit(rates.http429)) {
        count('429');
        res.writeHead(429, { 'content-type': 'text/plain' }).end('Too Many Requests');
        return;
      }
      if (hit(rates.http503)) {
        count('503');
        res.writeHead(503, { 'content-type': 'text/plain' }).end('Service Unavailable');
        return;
      }
      if (hit(rates.delay)) {
        count('delay');
        await new Promise((r) => setTimeout(r, delayMin + random() * (delayMax - delayMin)));
      }
    }
    const lagged = calls.map((c) => targeted(c.method) && hit(rates.lag));
    let text: string;
    if (!lagged.includes(true)) {
      text = await upstream(body);
    } else {
      const answers = await Promise.all(
        calls.map((c, i) => {
          if (!lagged[i]) return forward(c);
          count('lag');
          return answerLagging(c);
        }),
      );
      text = JSON.stringify(Array.isArray(parsed) ? answers : answers[0]);
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(text);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(String(err));
    });
  });

  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    wss.handleUpgrade(req, socket, head, (client) => {
      const node = new WebSocket(target.wsUrl);
      sockets.add(client);
      sockets.add(node);
      const pending: [WebSocket.RawData, boolean][] = [];
      const cut = setInterval(() => {
        if (hit(rates.wsCut)) {
          count('ws_cut');
          client.terminate();
        }
      }, 1_000);
      const end = () => {
        clearInterval(cut);
        sockets.delete(client);
        sockets.delete(node);
        if (client.readyState !== WebSocket.CLOSED) client.terminate();
        if (node.readyState !== WebSocket.CLOSED) node.terminate();
      };
      node.on('open', () => {
        for (const [data, binary] of pending.splice(0)) node.send(data, { binary });
      });
      client.on('message', (data, isBinary) => {
        if (node.readyState === WebSocket.OPEN) node.send(data, { binary: isBinary });
        else pending.push([data, isBinary]);
      });
      node.on('message', (data, isBinary) => {
        if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
      });
      client.on('close', end);
      node.on('close', end);
      client.on('error', end);
      node.on('error', end);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    setRates(next) {
      rates = { ...rates, ...next };
    },
    counts: () => ({ ...counted }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
