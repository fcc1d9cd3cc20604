import WebSocket from 'ws';
import type { Common } from '../context/common.js';
import { backoffMs } from '../internal/backoff.js';
import { redactUrls } from '../internal/redact.js';

export interface HeadSubscription {
  isConnected(): boolean;
  close(): void;
}

export interface SubscribeHeadsDeps {
  wsUrl: string;
  /** Every WebSocket URL in order of preference (`ChainContext.wsUrls`); `[wsUrl]` when left out. */
  wsUrls?: readonly string[];
  /** Called with the block number of every new head. */
  onHead: (blockNumber: number) => void;
  /** Called when the socket goes up or down, so the caller can poll while it is down. */
  onStateChange?: (connected: boolean) => void;
  /** A socket that has not answered a ping within this time is treated as dead. */
  pingIntervalMs: number;
}

/**
 * New heads over WebSocket (`eth_subscribe newHeads`), reconnecting with backoff. The socket is only a
 * wake-up signal: the watcher reads blocks over HTTP, so a lost notification costs latency, never a block.
 * With several URLs, a socket that closes is opened again at its URL first; one that cannot be opened (or
 * subscribed) moves to the next URL in turn, wrapping, and the backoff grows once per round of the list.
 */
export function subscribeHeads(common: Pick<Common, 'logger'>, deps: SubscribeHeadsDeps): HeadSubscription {
  const { logger } = common;
  const options = deps;
  const { pingIntervalMs } = options;
  const urls = options.wsUrls?.length ? options.wsUrls : [options.wsUrl];
  let at = 0;
  let socket: WebSocket | undefined;
  let connected = false;
  let closed = false;
  let failures = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;

  function setConnected(value: boolean) {
    if (connected === value) return;
    connected = value;
    options.onStateChange?.(value);
  }

  function connect() {
    if (closed) return;
    const url = urls[at]!;
    const ws = new WebSocket(url, { handshakeTimeout: 5_000 });
    socket = ws;
    let alive = true;
    let subscribed = false;
    ws.on('open', () => {
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_subscribe', params: ['newHeads'] }));
    });
    ws.on('pong', () => {
      alive = true;
    });
    ws.on('message', (data) => {
      let msg: {
        id?: number;
        result?: unknown;
        error?: unknown;
        method?: string;
        params?: { result?: { number?: string } };
      };
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (msg.id === 1) {
        if (msg.error) {
          logger.warn({ error: msg.error }, 'eth_subscribe newHeads refused; polling instead');
          ws.terminate();
          return;
        }
        failures = 0;
        subscribed = true;
        setConnected(true);
        logger.info({ ws: redactUrls(url) }, 'subscribed to new heads');
        return;
      }
      const number = msg.params?.result?.number;
      if (msg.method === 'eth_subscription' && typeof number === 'string')
        options.onHead(Number(BigInt(number)));
    });
    ws.on('error', (err) => {
      logger.debug({ err }, 'head socket error');
    });
    ws.on('close', () => {
      if (socket === ws) socket = undefined;
      clearInterval(pingTimer);
      if (connected) logger.warn('head socket closed; polling over HTTP until it is back');
      setConnected(false);
      if (closed) return;
      failures++;
      if (!subscribed && urls.length > 1) {
        at = (at + 1) % urls.length;
        logger.warn(
          { from: redactUrls(url), to: redactUrls(urls[at]!) },
          'head socket could not connect; trying the next URL',
        );
      }
      reconnectTimer = setTimeout(connect, backoffMs(Math.ceil(failures / urls.length)));
    });
    clearInterval(pingTimer);
    pingTimer = setInterval(() => {
      if (ws.readyState !== WebSocket.OPEN) return;
      if (!alive) {
        logger.warn('head socket stopped answering pings; reconnecting');
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping();
    }, pingIntervalMs);
  }

  connect();
  return {
    isConnected: () => connected,
    close() {
      closed = true;
      clearTimeout(reconnectTimer);
      clearInterval(pingTimer);
      socket?.terminate();
      setConnected(false);
    },
  };
}
