import { createServer, request } from 'node:http';

export interface DelayRpc {
  url: string;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of the node that holds every request `delayMs` before passing it on: a node
 * `delayMs` of round trip away, as a hosted provider is, rather than on the same machine. The answer is
 * passed back as it comes.
 */
export async function startDelayRpc(targetUrl: string, delayMs: number): Promise<DelayRpc> {
  const target = new URL(targetUrl);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      setTimeout(() => {
        const body = Buffer.concat(chunks);
        const upstream = request(
          {
            host: target.hostname,
            port: target.port,
            path: target.pathname,
            method: req.method,
            headers: { 'content-type': 'application/json', 'content-length': body.length },
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        upstream.on('error', () => {
          res.writeHead(502);
          res.end();
        });
        upstream.end(body);
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the delay proxy has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
