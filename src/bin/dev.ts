import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { createPublicClient, createWalletClient, type Hex, http } from 'viem';
import { testUsdtAbi } from '../chain/token.js';
import type { Delivery } from '../client/index.js';
import { isNativeAddress } from '../config/chains.js';
import { devnet, devnetAsset, devnetChain, devnetClient, withDevnetClient } from '../devnet/business.js';
import { runDemo } from '../devnet/demo.js';
import { DEVNET_COLLECTION_INDEX, devnetAccount } from '../devnet/devnet.js';
import { errorMessage } from '../internal/errors.js';
import { parseAmount } from '../money/amount.js';

/** Which chain and asset a `dev` command acts on: `--chain` (default ETH), `--symbol` (default its USDT). */
export interface DevTarget {
  chain?: string;
  symbol?: string;
}

/** The running devnet and the chain and asset a command names. */
function target(dataDir: string, options: DevTarget) {
  const dn = devnet(dataDir);
  const chain = devnetChain(dn.config, options.chain);
  return { dn, chain, asset: devnetAsset(chain, options.symbol) };
}

/** A signed topup request: the service watches `address` for deposits of the chain's asset. */
export async function devTopup(
  address: string,
  options: DevTarget = {},
  dataDir = './data',
): Promise<number> {
  const { dn, chain, asset } = target(dataDir, options);
  const sent = await withDevnetClient(dn, (client) =>
    client.topup({ chain: chain.name, symbol: asset.symbol, address }),
  );
  console.log(`published to ${sent.queue}: ${sent.body}`);
  return 0;
}

/** A signed withdraw request, or a pay request when `orderId` is given; prints its queue_id. */
export async function devPayout(
  to: string,
  amount: string,
  options: DevTarget & { from?: string; orderId?: string },
  dataDir = './data',
): Promise<number> {
  const { dn, chain, asset } = target(dataDir, options);
  const request = {
    queue_id: `dev-${Date.now()}-${randomBytes(3).toString('hex')}`,
    from_address: options.from ?? devnetAccount(DEVNET_COLLECTION_INDEX).address.toLowerCase(),
    to_address: to,
    amount,
    chain: chain.name,
    symbol: asset.symbol,
  };
  const { orderId } = options;
  const sent = await withDevnetClient(dn, (client) =>
    orderId ? client.pay({ ...request, order_id: orderId }) : client.withdraw(request),
  );
  console.log(`published to ${sent.queue}: ${sent.body}`);
  return 0;
}

/** Sends `amount` of the chain's test USDT (in its decimals) or of its native coin from a dev account. */
export async function devTransfer(
  to: string,
  amount: string,
  options: DevTarget & { fromIndex?: number },
  dataDir = './data',
): Promise<number> {
  const { chain, asset } = target(dataDir, options);
  const account = devnetAccount(options.fromIndex ?? 0);
  const wallet = createWalletClient({ account, transport: http(chain.rpcUrl) });
  const client = createPublicClient({ transport: http(chain.rpcUrl), cacheTime: 0 });
  const raw = parseAmount(amount, asset.decimals);
  const hash = isNativeAddress(asset.addressLc)
    ? await wallet.sendTransaction({ to: to as Hex, value: raw, chain: null })
    : await wallet.writeContract({
        address: asset.addressLc,
        abi: testUsdtAbi,
        functionName: 'transfer',
        args: [to as Hex, raw],
        chain: null,
      });
  const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 200 });
  console.log(
    `sent ${amount} ${asset.symbol} on ${chain.name} from ${account.address.toLowerCase()} to ${to}: ${hash} (block ${receipt.blockNumber})`,
  );
  return 0;
}

/**
 * Prints every response on the three response queues (every chain's) until interrupted, each checked by
 * the client (one with a bad signature goes to the queue's `.dlq` instead).
 */
export async function devListen(dataDir = './data'): Promise<number> {
  const client = devnetClient(devnet(dataDir));
  const print = (_answer: unknown, delivery: Delivery) => console.log(`${delivery.queue}: ${delivery.body}`);
  client.onTopup(print);
  client.onWithdraw(print);
  client.onPay(print);
  console.log('listening on the response queues (Ctrl-C to stop)');
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  await client.close();
  return 0;
}

/** Runs a command, printing a failure (no devnet, an unknown chain or symbol, a node that refused) as one line: exit 1. */
async function reported(command: () => Promise<number>): Promise<number> {
  try {
    return await command();
  } catch (err) {
    console.error(`error: ${errorMessage(err)}`);
    return 1;
  }
}

/** `m2pool-payment dev …`: the business system's side, against the devnet of `npm start`. */
export function addDevCommands(program: Command): void {
  const dev = program
    .command('dev')
    .description('play the business system against the embedded devnet (`npm start`)');
  const chainOptions = (command: Command, what: string) =>
    command
      .option('--chain <name>', 'the devnet chain: ETH or BSC', 'ETH')
      .option('--symbol <symbol>', `${what}: the chain's USDT (default) or its native coin (ETH, BNB)`);
  chainOptions(
    dev
      .command('topup <address>')
      .description('publish a signed topup request: the service watches the address'),
    'the asset watched',
  ).action(async (address: string, flags: DevTarget) => {
    process.exitCode = await reported(() => devTopup(address, flags));
  });
  chainOptions(
    dev.command('transfer <to> <amount>').description('send test USDT or the native coin from a dev account'),
    'what is sent',
  )
    .option('--from-index <n>', 'dev account index', '0')
    .action(async (to: string, amount: string, flags: DevTarget & { fromIndex: string }) => {
      process.exitCode = await reported(() =>
        devTransfer(to, amount, { ...flags, fromIndex: Number(flags.fromIndex) }),
      );
    });
  chainOptions(
    dev
      .command('withdraw <to> <amount>')
      .description('publish a signed withdraw request (default sender: the collection wallet)'),
    'what is paid',
  )
    .option('--from <address>', 'the wallet to pay from')
    .action(async (to: string, amount: string, flags: DevTarget & { from?: string }) => {
      process.exitCode = await reported(() => devPayout(to, amount, flags));
    });
  chainOptions(
    dev
      .command('pay <to> <amount> <orderId>')
      .description('publish a signed pay request for a merchant order'),
    'what is paid',
  )
    .option('--from <address>', 'the wallet to pay from')
    .action(async (to: string, amount: string, orderId: string, flags: DevTarget & { from?: string }) => {
      process.exitCode = await reported(() => devPayout(to, amount, { ...flags, orderId }));
    });
  dev
    .command('demo')
    .description(
      'on both chains: register an address, transfer to it, withdraw (and pay on ETH), printing every message (npm run demo)',
    )
    .action(async () => {
      process.exitCode = await runDemo();
    });
  dev
    .command('listen')
    .description('print every response the service publishes')
    .action(async () => {
      process.exitCode = await reported(() => devListen());
    });
}
