import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Common } from '../context/common.js';
import { errorMessage } from '../internal/errors.js';

/** A readiness check: resolves with undefined when fine, or the reason it is not. */
export type ReadinessCheck = () => Promise<string | undefined>;

export interface HttpRoutes {
  [path: string]: (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;
}

export interface HttpServerDeps {
  host: string;
  port: number;
  /** Each named check must pass for /ready to answer 200. */
  readiness: Record<string, ReadinessCheck>;
  /** More GET routes (metrics, status page), added by other parts. */
  routes?: HttpRoutes;
}

/** GET /health (the process runs) and GET /ready (database, broker and node reachable, watcher caught up). */
export function createHttpServer(common: Pick<Common, 'logger'>, deps: HttpServerDeps) {
  const options = deps;
  const { logger } = common;
  const routes: HttpRoutes = {
    '/health': (_req, res) => send(res, 200, 'ok\n'),
    '/ready': async (_req, res) => {
      const failures: string[] = [];
      await Promise.all(
        Object.entries(options.readiness).map(async ([name, check]) => {
          try {
            const reason = await check();
            if (reason) failures.push(`${name}: ${reason}`);
          } catch (err) {
            failures.push(`${name}: ${errorMessage(err)}`);
          }
        }),
      );
      failures.sort();
      if (failures.length === 0) send(res, 200, 'ready\n');
      else send(res, 503, `not ready\n${failures.join('\n')}\n`);
    },
    ...options.routes,
  };
  let server: Server | undefined;

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = routes[path];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
    if (!route) return send(res, 404, 'not found\n');
    try {
      await route(req, res);
    } catch (err) {
      logger.error({ err, path }, 'http handler failed');
      if (!res.headersSent) send(res, 500, 'internal error\n');
    }
  }

  return {
    /** Adds a GET route before or after start. */
    route(path: string, handler: HttpRoutes[string]) {
      routes[path] = handler;
    },
    async start(): Promise<{ host: string; port: number }> {
      server = createServer((req, res) => {
        void handle(req, res);
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(options.port, options.host, () => resolve());
      });
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : options.port;
      logger.info({ url: `http://${options.host}:${port}` }, 'http listening');
      return { host: options.host, port };
    },
    async stop() {
      if (!server) return;
      const s = server;
      server = undefined;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    },
  };
}

export function send(
  res: ServerResponse,
  status: number,
  body: string,
  contentType = 'text/plain; charset=utf-8',
) {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}
