import { randomBytes } from 'node:crypto';
import { Connection } from 'rabbitmq-client';
import { createPublicClient, createWalletClient, type Hex, http } from 'viem';
import { testUsdtAbi } from '../chain/token.js';
import { consumeResponses, devnet, publish } from '../devnet/business.js';
import { DEVNET_COLLECTION_INDEX, devnetAccount, devnetRmq } from '../devnet/devnet.js';
import { parseAmount } from '../money/amount.js';
import { stringifyMessage } from '../protocol/json.js';
import { withSignature } from '../protocol/sign.js';

export async function devTopup(address: string, dataDir = './data'): Promise<number> {
  const dn = devnet(dataDir);
  const rmq = devnetRmq(dn.queuePrefix);
  const msg = withSignature(
    { chain: 'ETH', symbol: 'USDT', address, timestamp: Math.floor(Date.now() / 1000) },
    dn.signKey,
  );
  const body = stringifyMessage(msg);
  await publish(rmq.url, rmq.topup.exchange, rmq.topup.routing[0]!, body);
  console.log(`published to ${rmq.topup.queue}: ${body}`);
  return 0;
}

/** A signed withdraw request, or a pay request when `orderId` is given; prints its queue_id. */
export async function devPayout(
  to: string,
  amount: string,
  options: { from?: string; orderId?: string },
  dataDir = './data',
): Promise<number> {
  const dn = devnet(dataDir);
  const rmq = devnetRmq(dn.queuePrefix);
  const queue = options.orderId ? rmq.pay : rmq.withdraw;
  const msg = withSignature(
    {
      queue_id: `dev-${Date.now()}-${randomBytes(3).toString('hex')}`,
      from_address: options.from ?? devnetAccount(DEVNET_COLLECTION_INDEX).address.toLowerCase(),
      to_address: to,
      amount,
      chain: 'ETH',
      symbol: 'USDT',
      ...(options.orderId ? { order_id: options.orderId } : {}),
      timestamp: Math.floor(Date.now() / 1000),
    },
    dn.signKey,
  );
  const body = stringifyMessage(msg);
  await publish(rmq.url, queue.exchange, queue.routing[0]!, body);
  console.log(`published to ${queue.queue}: ${body}`);
  return 0;
}

export async function devTransfer(
  to: string,
  amount: string,
  fromIndex: number,
  dataDir = './data',
): Promise<number> {
  const dn = devnet(dataDir);
  const account = devnetAccount(fromIndex);
  const wallet = createWalletClient({ account, transport: http(dn.rpcUrl) });
  const client = createPublicClient({ transport: http(dn.rpcUrl), cacheTime: 0 });
  const hash = await wallet.writeContract({
    address: dn.tokenAddress,
    abi: testUsdtAbi,
    functionName: 'transfer',
    args: [to as Hex, parseAmount(amount, 6)],
    chain: null,
  });
  const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 200 });
  console.log(
    `sent ${amount} USDT from ${account.address.toLowerCase()} to ${to}: ${hash} (block ${receipt.blockNumber})`,
  );
  return 0;
}

/** Prints every response on the three response queues until interrupted. */
export async function devListen(dataDir = './data'): Promise<number> {
  const dn = devnet(dataDir);
  const rmq = devnetRmq(dn.queuePrefix);
  const connection = new Connection(rmq.url);
  const consumers = consumeResponses(connection, rmq, (queue, text) => console.log(`${queue}: ${text}`));
  console.log('listening on the response queues (Ctrl-C to stop)');
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  await Promise.all(consumers.map((c) => c.close()));
  await connection.close();
  return 0;
}
