import { setTimeout as sleep } from 'node:timers/promises';
import amqplib from 'amqplib';
import type { Address, Hex } from 'viem';
import type { QueueConfig } from '../src/config/types.js';
import { TEST_AMQP_URL } from '../test/helpers/rabbit.js';
import { rpcBatch } from './chain.js';
import { nowMs } from './ipc.js';

/**
 * What the payout parts of the bench share: publishing requests the way a business does (confirmed,
 * persistent, many outstanding) and watching the node's pool take the service's transactions.
 */

/** Confirmed publishes outstanding at once. */
const PUBLISH_WINDOW = 1_000;

/** The node's pending nonces (its pool included) of `addresses`, in one JSON-RPC batch. */
export async function pendingNonces(rpcUrl: string, addresses: Address[]): Promise<number[]> {
  const body = addresses.map((a, id) => ({
    jsonrpc: '2.0',
    id,
    method: 'eth_getTransactionCount',
    params: [a, 'pending'],
  }));
  const answers = (await rpcBatch(rpcUrl, body)) as { id: number; result?: Hex; error?: unknown }[];
  answers.sort((x, y) => x.id - y.id);
  return answers.map((a) => {
    if (!a.result) throw new Error(`eth_getTransactionCount: ${JSON.stringify(a.error)}`);
    return Number(BigInt(a.result));
  });
}

/** Polls until every wallet's pending nonce reached its target; resolves with the time it was seen. */
export async function untilPending(
  rpcUrl: string,
  addresses: Address[],
  targets: number[],
  timeoutMs: number,
) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const nonces = await pendingNonces(rpcUrl, addresses);
    if (nonces.every((n, i) => n >= targets[i]!)) return nowMs();
    if (performance.now() > deadline)
      throw new Error(`pending nonces ${nonces} after ${timeoutMs} ms, expected ${targets}`);
    await sleep(10);
  }
}

/** Publishes every body to the queue's exchange, persistent, with `PUBLISH_WINDOW` confirms outstanding. */
export async function publishAll(queue: QueueConfig, bodies: string[]) {
  const conn = await amqplib.connect(TEST_AMQP_URL);
  conn.on('error', () => {});
  try {
    const ch = await conn.createConfirmChannel();
    let outstanding = 0;
    let release: (() => void) | undefined;
    let failed: Error | undefined;
    const started = nowMs();
    for (const body of bodies) {
      while (outstanding >= PUBLISH_WINDOW) await new Promise<void>((r) => (release = r));
      if (failed) throw failed;
      outstanding++;
      const options = { persistent: true, contentType: 'application/json' };
      const ok = ch.publish(queue.exchange, queue.routing[0]!, Buffer.from(body, 'utf8'), options, (err) => {
        outstanding--;
        if (err) failed = err instanceof Error ? err : new Error(String(err));
        const r = release;
        release = undefined;
        r?.();
      });
      if (!ok) await new Promise((r) => ch.once('drain', r));
    }
    await ch.waitForConfirms();
    if (failed) throw failed;
    const confirmed = nowMs();
    await ch.close();
    return { started, confirmed };
  } finally {
    await conn.close().catch(() => {});
  }
}

/** Sets the node's block gas limit (anvil), so one block can hold every transaction of a part's pool. */
export async function setBlockGasLimit(rpcUrl: string, limit: bigint): Promise<void> {
  await rpcBatch(rpcUrl, {
    jsonrpc: '2.0',
    id: 1,
    method: 'evm_setBlockGasLimit',
    params: [`0x${limit.toString(16)}`],
  });
}
