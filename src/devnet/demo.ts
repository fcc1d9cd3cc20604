import { randomBytes } from 'node:crypto';
import { createPublicClient, createWalletClient, type Hex, http } from 'viem';
import { testUsdtAbi } from '../chain/token.js';
import {
  type Delivery,
  isDepositAnswer,
  type PayAnswer,
  type SentRequest,
  type TopupAnswer,
  type WithdrawAnswer,
} from '../client/index.js';
import { isNativeAddress } from '../config/chains.js';
import type { ChainConfig } from '../config/types.js';
import { parseAmount } from '../money/amount.js';
import { devnet, devnetAsset, devnetClient } from './business.js';
import { DEVNET_COLLECTION_INDEX, devnetAccount } from './devnet.js';

/** An answer the client handed over (verified and typed), with the response queue it came from. */
type Seen =
  | { kind: 'topup'; answer: TopupAnswer }
  | { kind: 'withdraw'; answer: WithdrawAnswer }
  | { kind: 'pay'; answer: PayAnswer };

/** What the demo does on one chain: deposits of each symbol, then withdrawals and payments. */
interface ChainPlay {
  chain: string;
  deposits: { symbol: string; amount: string }[];
  withdrawals: { symbol: string; amount: string; orderId?: string }[];
}

/**
 * ETH: a 6-decimal USDT deposit, a withdrawal and a payment. BSC: an 18-decimal USDT deposit, a native
 * BNB deposit, a USDT withdrawal and a BNB one (a plain value transfer). A chain the devnet lacks is left out.
 */
const PLAYS: readonly ChainPlay[] = [
  {
    chain: 'ETH',
    deposits: [{ symbol: 'USDT', amount: '12.5' }],
    withdrawals: [
      { symbol: 'USDT', amount: '3' },
      { symbol: 'USDT', amount: '1.25', orderId: 'demo-order-1' },
    ],
  },
  {
    chain: 'BSC',
    deposits: [
      { symbol: 'USDT', amount: '12.5' },
      { symbol: 'BNB', amount: '0.5' },
    ],
    withdrawals: [
      { symbol: 'USDT', amount: '3' },
      { symbol: 'BNB', amount: '0.1' },
    ],
  },
];

/**
 * `npm run demo`: plays the business system against the devnet of `npm start`, on each of its chains in
 * turn: registers a fresh address, transfers to it and waits for status 2 then 1, then withdraws (and
 * pays) to it and waits for the answers, printing every message as it flows. Resolves 0 when everything
 * arrived, 1 with the reason otherwise.
 */
export async function runDemo(options: { dataDir?: string; timeoutMs?: number } = {}): Promise<number> {
  const dn = devnet(options.dataDir ?? './data');
  const timeoutMs = options.timeoutMs ?? 180_000;
  const seen: Seen[] = [];
  const waiters: (() => void)[] = [];
  // The business side is the client SDK: it signs the requests and checks every answer's signature.
  const payments = devnetClient(dn);
  const record = (entry: Seen, delivery: Delivery) => {
    console.log(`  <- ${delivery.queue}: ${delivery.body}`);
    seen.push(entry);
    for (const w of waiters.splice(0)) w();
  };
  payments.onTopup((answer, delivery) => record({ kind: 'topup', answer }, delivery));
  payments.onWithdraw((answer, delivery) => record({ kind: 'withdraw', answer }, delivery));
  payments.onPay((answer, delivery) => record({ kind: 'pay', answer }, delivery));
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
  const sent = (request: SentRequest<unknown>) => console.log(`  -> ${request.queue}: ${request.body}`);

  /** Sends `amount` of `symbol` on `chain` from dev account 0: a token transfer or a plain value transfer. */
  async function transfer(chain: ChainConfig, symbol: string, to: Hex, amount: string): Promise<Hex> {
    const asset = devnetAsset(chain, symbol);
    const client = createPublicClient({ transport: http(chain.rpcUrl), cacheTime: 0 });
    const wallet = createWalletClient({ account: devnetAccount(0), transport: http(chain.rpcUrl) });
    const raw = parseAmount(amount, asset.decimals);
    const txHash = isNativeAddress(asset.addressLc)
      ? await wallet.sendTransaction({ to, value: raw, chain: null })
      : await wallet.writeContract({
          address: asset.addressLc,
          abi: testUsdtAbi,
          functionName: 'transfer',
          args: [to, raw],
          chain: null,
        });
    const receipt = await client.waitForTransactionReceipt({ hash: txHash, pollingInterval: 250 });
    console.log(`  tx ${txHash} in block ${receipt.blockNumber} (${raw} units: ${asset.decimals} decimals)`);
    return txHash;
  }

  async function play(chain: ChainConfig, plan: ChainPlay) {
    const address = `0x${randomBytes(20).toString('hex')}` as Hex;
    step(`${chain.name} (chain id ${chain.chainId}): register deposit address ${address}`);
    for (const { symbol } of plan.deposits) {
      const asset = devnetAsset(chain, symbol);
      sent(await payments.topup({ chain: chain.name, symbol: asset.symbol, address }));
    }
    await new Promise((r) => setTimeout(r, 2_000)); // the service registers it in milliseconds

    for (const { symbol, amount } of plan.deposits) {
      step(`${chain.name}: transfer ${amount} ${symbol} to it from dev account 0`);
      const txHash = await transfer(chain, symbol, address, amount);
      const isDeposit = (status: number) => (s: Seen) =>
        s.kind === 'topup' &&
        isDepositAnswer(s.answer) &&
        s.answer.tx_hash === txHash &&
        s.answer.status === status;
      await waitFor(`the ${chain.name} ${symbol} deposit seen (status 2)`, isDeposit(2));
      const done = await waitFor(`the ${chain.name} ${symbol} deposit confirmed (status 1)`, isDeposit(1));
      // Amounts arrive as exact decimal strings: compared as text, never as floats.
      const final = done.kind === 'topup' && isDepositAnswer(done.answer) ? done.answer : undefined;
      if (final?.chain !== chain.name || final.amount !== amount)
        throw new Error(`deposit answered with another amount or chain: ${JSON.stringify(done.answer)}`);
    }

    const collection = devnetAccount(DEVNET_COLLECTION_INDEX).address.toLowerCase();
    for (const { symbol, amount, orderId } of plan.withdrawals) {
      const kind = orderId ? 'pay' : 'withdraw';
      const queueId = `demo-${kind[0]}-${randomBytes(4).toString('hex')}`;
      const what = orderId ? `pay ${amount} ${symbol} for order ${orderId}` : `withdraw ${amount} ${symbol}`;
      step(`${chain.name}: ${what} to ${address} (queue_id ${queueId})`);
      const request = {
        queue_id: queueId,
        from_address: collection,
        to_address: address,
        amount,
        chain: chain.name,
        symbol: devnetAsset(chain, symbol).symbol,
      };
      sent(
        orderId ? await payments.pay({ ...request, order_id: orderId }) : await payments.withdraw(request),
      );
      const answer = await waitFor(
        `the ${chain.name} ${kind} answer`,
        (s) => s.kind === kind && s.answer.queue_id === queueId,
      );
      if (answer.answer.status !== 1)
        throw new Error(`${chain.name} ${kind} failed: ${JSON.stringify(answer.answer)}`);
    }
  }

  try {
    for (const plan of PLAYS) {
      const chain = dn.config.chains.find((c) => c.name === plan.chain);
      if (chain) await play(chain, plan);
    }
    step(`done: every message arrived (chains ${dn.config.chains.map((c) => c.name).join(', ')})`);
    return 0;
  } catch (err) {
    console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await payments.close();
  }
}
