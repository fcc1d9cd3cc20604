import { Connection } from 'rabbitmq-client';
import type { Config } from '../config/types.js';
import { loadDevnetState } from './devnet.js';

/**
 * What the `dev` commands and the demo need of the running devnet (`npm start` without a config): its
 * secret, token, node and queue names, from `<dataDir>/devnet.json`.
 */
export function devnet(dataDir: string) {
  const state = loadDevnetState(dataDir);
  if (!state?.tokenAddress || !state.rpcUrl) {
    throw new Error(`no devnet under ${dataDir}: run \`npm start\` (without a config file) first`);
  }
  return { ...state, tokenAddress: state.tokenAddress, rpcUrl: state.rpcUrl };
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
