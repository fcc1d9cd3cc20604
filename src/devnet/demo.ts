import { randomBytes } from 'node:crypto';
import { Connection } from 'rabbitmq-client';
import { createPublicClient, createWalletClient, type Hex, http } from 'viem';
import { testUsdtAbi } from '../chain/token.js';
import type { QueueConfig } from '../config/types.js';
import { stringifyMessage } from '../protocol/json.js';
import { withSignature } from '../protocol/sign.js';
import { consumeResponses, devnet, publish } from './business.js';
import { DEVNET_COLLECTION_INDEX, devnetAccount, devnetRmq } from './devnet.js';

interface Seen {
  queue: string;
  body: Record<string, unknown>;
}

/**
 * `npm run demo`: plays the business system against the devnet of `npm start`. Registers a fresh address,
 * transfers to it and waits for status 2 then 1, then withdraws and pays to it and waits for both answers,
 * printing every message as it flows. Resolves 0 when everything arrived, 1 with the reason otherwise.
 */
export async function runDemo(options: { dataDir?: string; timeoutMs?: number } = {}): Promise<number> {
  const dn = devnet(options.dataDir ?? './data');
  const timeoutMs = options.timeoutMs ?? 90_000;
  const rmq = devnetRmq(dn.queuePrefix);
  const now = () => Math.floor(Date.now() / 1000);
  const sign = (msg: Record<string, unknown>) => stringifyMessage(withSignature(msg, dn.signKey));
  const seen: Seen[] = [];
  const waiters: (() => void)[] = [];
  const connection = new Connection(rmq.url);
  const consumers = consumeResponses(connection, rmq, (queue, text) => {
    console.log(`  <- ${queue}: ${text}`);
    seen.push({ queue, body: JSON.parse(text) });
    for (const w of waiters.splice(0)) w();
  });
  const deadline = Date.now() + timeoutMs;
  async function waitFor(what: string, match: (s: Seen) => boolean): Promise<Seen> {
    for (;;) {
      const found = seen.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1_000));
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
  const step = (text: string) => console.log(`\n== ${text}`);
  const send = async (queue: QueueConfig, body: string) => {
    console.log(`  -> ${queue.queue}: ${body}`);
    await publish(rmq.url, queue.exchange, queue.routing[0]!, body);
  };

  try {
    const address = `0x${randomBytes(20).toString('hex')}` as Hex;
    step(`register deposit address ${address}`);
    await send(rmq.topup, sign({ chain: 'ETH', symbol: 'USDT', address, timestamp: now() }));
    await new Promise((r) => setTimeout(r, 2_000)); // the service registers it in milliseconds

    step('transfer 12.5 USDT to it from dev account 0');
    const client = createPublicClient({ transport: http(dn.rpcUrl), cacheTime: 0 });
    const wallet = createWalletClient({ account: devnetAccount(0), transport: http(dn.rpcUrl) });
    const txHash = await wallet.writeContract({
      address: dn.tokenAddress,
      abi: testUsdtAbi,
      functionName: 'transfer',
      args: [address, 12_500_000n],
      chain: null,
    });
    const receipt = await client.waitForTransactionReceipt({ hash: txHash, pollingInterval: 250 });
    console.log(`  tx ${txHash} in block ${receipt.blockNumber}`);
    const isDeposit = (status: number) => (s: Seen) => s.body.tx_hash === txHash && s.body.status === status;
    await waitFor('the deposit seen (status 2)', isDeposit(2));
    await waitFor('the deposit confirmed (status 1)', isDeposit(1));

    const collection = devnetAccount(DEVNET_COLLECTION_INDEX).address.toLowerCase();
    const withdrawId = `demo-w-${randomBytes(4).toString('hex')}`;
    step(`withdraw 3 USDT to ${address} (queue_id ${withdrawId})`);
    const base = { from_address: collection, to_address: address, chain: 'ETH', symbol: 'USDT' };
    await send(rmq.withdraw, sign({ queue_id: withdrawId, ...base, amount: '3', timestamp: now() }));
    const withdrawn = await waitFor('the withdrawal answer', (s) => s.body.queue_id === withdrawId);
    if (withdrawn.body.status !== 1) throw new Error(`withdrawal failed: ${JSON.stringify(withdrawn.body)}`);

    const payId = `demo-p-${randomBytes(4).toString('hex')}`;
    step(`pay 1.25 USDT for order demo-order-1 (queue_id ${payId})`);
    await send(
      rmq.pay,
      sign({ queue_id: payId, ...base, amount: '1.25', order_id: 'demo-order-1', timestamp: now() }),
    );
    const paid = await waitFor('the payment answer', (s) => s.body.queue_id === payId);
    if (paid.body.status !== 1) throw new Error(`payment failed: ${JSON.stringify(paid.body)}`);

    step('done: every message arrived');
    return 0;
  } catch (err) {
    console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await Promise.all(consumers.map((c) => c.close()));
    await connection.close();
  }
}
