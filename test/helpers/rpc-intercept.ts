import { createServer, type Server } from 'node:http';

export interface RpcCall {
  id: unknown;
  method: string;
  params?: unknown[];
}

/** What an interceptor does with a call: answer it itself (`result` or `error`), or pass it on (undefined). */
export type Intercept = (call: RpcCall) => { result: unknown } | { error: string } | undefined;

export interface InterceptingRpc {
  url: string;
  /** Replaces the interceptor (undefined: pass everything through). */
  set(intercept: Intercept | undefined): void;
  close(): Promise<void>;
}

/**
 * An HTTP JSON-RPC proxy in front of a node whose answers a test can replace call by call (single calls
 * and batches): to play a lagging backend that answers null receipts, say, while the node moves on.
 */
export async function startInterceptingRpc(targetUrl: string): Promise<InterceptingRpc> {
  let intercept: Intercept | undefined;
  const forward = async (calls: RpcCall[]): Promise<unknown[]> => {
    const res = await fetch(targetUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(calls),
    });
    return (await res.json()) as unknown[];
  };
  const server: Server = createServer(async (req, res) => {
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as RpcCall | RpcCall[];
      const single = !Array.isArray(parsed);
      const calls = single ? [parsed] : parsed;
      const own = calls.map((c) => intercept?.(c));
      const passed = calls.filter((_, i) => own[i] === undefined);
      const answers = passed.length ? await forward(passed) : [];
      const byId = new Map((answers as { id: unknown }[]).map((a) => [JSON.stringify(a.id), a]));
      const out = calls.map((c, i) => {
        const mine = own[i];
        if (mine === undefined) return byId.get(JSON.stringify(c.id));
        return 'error' in mine
          ? { jsonrpc: '2.0', id: c.id, error: { code: -32000, message: mine.error } }
          : { jsonrpc: '2.0', id: c.id, result: mine.result };
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(single ? out[0] : out));
    } catch (err) {
      res.writeHead(502);
      res.end(String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    set(next) {
      intercept = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
