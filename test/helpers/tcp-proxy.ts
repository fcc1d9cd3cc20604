import { connect, createServer, type Socket } from 'node:net';

/**
 * How a cut looks to the client:
 * - 'reset': open connections are reset and new ones are accepted and reset at once, so the client
 *   sees ECONNRESET quickly (a broker or node that went away);
 * - 'blackhole': connections stay open but no byte passes either way and new ones hang unanswered,
 *   so only the client's heartbeats or timeouts can notice (a silent network partition).
 */
export type CutMode = 'reset' | 'blackhole';

export interface TcpProxy {
  host: string;
  port: number;
  /** `host:port`, to put in a URL: `amqp://user:pass@${proxy.address}`. */
  address: string;
  /** Connections currently forwarded (or held, while blackholed). */
  readonly connections: number;
  readonly isCut: boolean;
  cut(mode?: CutMode): void;
  /** Forwards again. Connections held by a blackhole are reset: their streams lost bytes. */
  restore(): void;
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  /** Where the proxy listens. Default 127.0.0.1. */
  host?: string;
  /** Default: a free port. */
  port?: number;
}

interface Link {
  client: Socket;
  upstream?: Socket;
  /** Blackholed: the client must hear nothing, not even the upstream going away. */
  held?: boolean;
}

export async function startTcpProxy(
  targetHost: string,
  targetPort: number,
  options: TcpProxyOptions = {},
): Promise<TcpProxy> {
  const links = new Set<Link>();
  let cutMode: CutMode | undefined;

  const drop = (link: Link) => {
    links.delete(link);
    // RST rather than FIN: the peer learns at once that the connection is gone.
    if (!link.client.destroyed) link.client.resetAndDestroy();
    if (link.upstream && !link.upstream.destroyed) link.upstream.resetAndDestroy();
  };

  // One side closed cleanly: pass the FIN on after any bytes still buffered for the other side.
  const finish = (link: Link) => {
    links.delete(link);
    if (!link.client.destroyed) link.client.destroySoon();
    if (link.upstream && !link.upstream.destroyed) link.upstream.destroySoon();
  };

  const hold = (link: Link) => {
    // Stop forwarding and read into nothing, so neither side gets a byte or backpressure.
    link.held = true;
    if (link.upstream) {
      link.client.unpipe(link.upstream);
      link.upstream.unpipe(link.client);
      link.upstream.resume();
    }
    link.client.resume();
  };

  const server = createServer((client) => {
    const link: Link = { client };
    client.on('error', () => drop(link));
    client.on('close', (hadError) => (hadError ? drop(link) : finish(link)));
    if (cutMode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    links.add(link);
    if (cutMode === 'blackhole') {
      hold(link);
      return;
    }
    const upstream = connect(targetPort, targetHost);
    link.upstream = upstream;
    const upstreamGone = (hadError: boolean) => {
      if (link.held) upstream.destroy();
      else if (hadError) drop(link);
      else finish(link);
    };
    upstream.on('error', () => upstreamGone(true));
    upstream.on('close', (hadError) => upstreamGone(hadError));
    client.pipe(upstream);
    upstream.pipe(client);
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('tcp proxy has no address');
  const port = address.port;

  return {
    host,
    port,
    address: `${host.includes(':') ? `[${host}]` : host}:${port}`,
    get connections() {
      return links.size;
    },
    get isCut() {
      return cutMode !== undefined;
    },
    cut(mode = 'reset') {
      cutMode = mode;
      for (const link of [...links]) {
        if (mode === 'reset') drop(link);
        else hold(link);
      }
    },
    restore() {
      if (cutMode === 'blackhole') for (const link of [...links]) drop(link);
      cutMode = undefined;
    },
    close() {
      cutMode = 'reset';
      for (const link of [...links]) drop(link);
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
