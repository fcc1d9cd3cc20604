import { createServer, type Server } from 'node:http';

export interface RpcProxy {
  url: string;
  /** eth_getLogs ranges the proxy refused, as [from, to]. */
  refused: [number, number][];
  /** eth_getLogs ranges it let through. */
  served: [number, number][];
  close(): Promise<void>;
}

/**
 * An HTTP JSON-RPC proxy in front of a node that refuses eth_getLogs over more than `maxRange` blocks,
 * the way hosted providers do ("query exceeds max block range"), and passes everything else through.
 */
export async function startRangeLimitedRpc(targetUrl: string, maxRange: number): Promise<RpcProxy> {
  const refused: [number, number][] = [];
  const served: [number, number][] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const calls = JSON.parse(body) as
      | { id: number; method: string; params?: unknown[] }
      | { id: number; method: string; params?: unknown[] }[];
    const single = !Array.isArray(calls);
    const list = single ? [calls] : calls;
    const tooWide = list.find((c) => {
      if (c.method !== 'eth_getLogs') return false;
      const filter = (c.params?.[0] ?? {}) as { fromBlock?: string; toBlock?: string };
      if (!filter.fromBlock || !filter.toBlock) return false;
      const from = Number(BigInt(filter.fromBlock));
      const to = Number(BigInt(filter.toBlock));
      if (to - from + 1 > maxRange) {
        refused.push([from, to]);
        return true;
      }
      served.push([from, to]);
      return false;
    });
    if (tooWide && single) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          jsonrpc: '2.0',
          id: tooWide.id,
          error: { code: -32005, message: `query exceeds max block range ${maxRange}` },
        }),
      );
      return;
    }
    const upstream = await fetch(targetUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    res.writeHead(upstream.status, { 'content-type': 'application/json' });
    res.end(await upstream.text());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    refused,
    served,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface ThrottlingRpc {
  url: string;
  /** eth_chainId calls answered 429 so far. */
  throttled(): number;
  close(): Promise<void>;
}

/**
 * An HTTP JSON-RPC proxy that answers `429 Too Many Requests` to the first `chainIdFailures` requests
 * that carry an eth_chainId call, the way a hosted provider does over its rate, and passes the rest on.
 */
export async function startThrottlingRpc(targetUrl: string, chainIdFailures: number): Promise<ThrottlingRpc> {
  let throttled = 0;
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (body.includes('"eth_chainId"') && throttled < chainIdFailures) {
      throttled++;
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(
        JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: 429, message: 'Too Many Requests' } }),
      );
      return;
    }
    try {
      const upstream = await fetch(targetUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      res.writeHead(upstream.status, { 'content-type': 'application/json' });
      res.end(await upstream.text());
    } catch {
      res.writeHead(502);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    throttled: () => throttled,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
