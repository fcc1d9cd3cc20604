import type { Hex, PublicClient } from 'viem';
import type { TokenConfig } from '../config/types.js';
import { formatAmount } from '../money/amount.js';
import { tokenBalance } from '../payouts/chain.js';

export interface Balance {
  symbol: string;
  raw: bigint;
  /** Exact decimal text in whole units. */
  amount: string;
}

export interface WalletBalances {
  role: 'collection';
  address: string;
  /** ETH first (gas), then each configured token. */
  balances: Balance[];
  /** When these were read (ms); the balances stay shown, with their time, while the node is away. */
  readAt: number;
}

/** Reads the collection wallet's gas and token balances from the node. */
export async function readCollectionBalances(
  client: PublicClient,
  address: Hex,
  tokens: readonly TokenConfig[],
  onError: (method: string) => void,
): Promise<WalletBalances> {
  const read = <T>(method: string, call: () => Promise<T>) =>
    call().catch((err: unknown) => {
      onError(method);
      throw err;
    });
  const [native, ...tokenRaws] = await Promise.all([
    read('eth_getBalance', () => client.getBalance({ address })),
    ...tokens.map((t) => read('eth_call', () => tokenBalance(client, t.addressLc, address))),
  ]);
  return {
    role: 'collection',
    address,
    balances: [
      { symbol: 'ETH', raw: native, amount: formatAmount(native, 18) },
      ...tokens.map((t, i) => {
        const raw = tokenRaws[i] ?? 0n;
        return { symbol: t.symbol, raw, amount: formatAmount(raw, t.decimals) };
      }),
    ],
    readAt: Date.now(),
  };
}

/** A balance as a float for Prometheus (display only; never used for money). */
export function balanceAsNumber(b: Balance): number {
  return Number(b.amount);
}
