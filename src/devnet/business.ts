import { Connection } from 'rabbitmq-client';
import { assetsOf } from '../config/chains.js';
import type { ChainConfig, Config, TokenConfig } from '../config/types.js';
import { loadDevnetConfig } from './config-file.js';
import { loadDevnetState } from './devnet.js';

/**
 * What the `dev` commands and the demo need of the running devnet (`npm start` without a config): its
 * secret and queue names from `<dataDir>/devnet.json`, its chains (nodes, tokens, native coins) from the
 * config file it wrote.
 */
export function devnet(dataDir: string) {
  const state = loadDevnetState(dataDir);
  const config = state ? loadDevnetConfig(dataDir) : undefined;
  if (!state || !config) {
    throw new Error(`no devnet under ${dataDir}: run \`npm start\` (without a config file) first`);
  }
  return { ...state, config };
}

export type RunningDevnet = ReturnType<typeof devnet>;

/** The chain named `name` (any letter case, as requests match it); an error listing the chains otherwise. */
export function devnetChain(config: Config, name = 'ETH'): ChainConfig {
  const chain = config.chains.find((c) => c.name.toLowerCase() === name.toLowerCase());
  if (!chain)
    throw new Error(`the devnet has no chain ${name}: it has ${config.chains.map((c) => c.name).join(', ')}`);
  return chain;
}

/**
 * The token or native coin `symbol` of `chain` (default: its first token, the test USDT); the native
 * coin's address is NATIVE_ADDRESS_LC (see `isNativeAddress`).
 */
export function devnetAsset(chain: ChainConfig, symbol?: string): TokenConfig {
  const assets = assetsOf(chain);
  const asset = symbol ? assets.find((a) => a.symbol.toLowerCase() === symbol.toLowerCase()) : assets[0];
  if (!asset)
    throw new Error(`chain ${chain.name} has no ${symbol}: it has ${assets.map((a) => a.symbol).join(', ')}`);
  return asset;
}

/** Publishes one message with a publisher confirm, on a connection of its own. */
export async function publish(url: string, exchange: string, routingKey: string, body: string) {
  const connection = new Connection(url);
  const publisher = connection.createPublisher({
    confirm: true,
    exchanges: [{ exchange, type: 'direct', durable: true }],
  });
  try {
    await publisher.send(
      { exchange, routingKey, durable: true, contentType: 'application/json' },
      Buffer.from(body),
    );
  } finally {
    await publisher.close();
    await connection.close();
  }
}

/**
 * Consumes the three response queues (declaring and binding them, so nothing published meanwhile is
 * dropped), handing each message's text to `onMessage`. Close the returned consumers, then the connection.
 */
export function consumeResponses(
  connection: Connection,
  rmq: Config['rmq'],
  onMessage: (queue: string, text: string) => void,
) {
  return [rmq.topupResp, rmq.withdrawResp, rmq.payResp].map((q) =>
    connection.createConsumer(
      {
        queue: q.queue,
        queueOptions: { durable: true },
        exchanges: [{ exchange: q.exchange, type: 'direct', durable: true }],
        queueBindings: q.routing.map((routingKey) => ({ exchange: q.exchange, queue: q.queue, routingKey })),
      },
      async (msg) => {
        onMessage(q.queue, Buffer.isBuffer(msg.body) ? msg.body.toString('utf8') : JSON.stringify(msg.body));
      },
    ),
  );
}
