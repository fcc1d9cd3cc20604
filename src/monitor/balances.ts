import type { Hex, PublicClient } from 'viem';
import type { NativeCoinConfig, TokenConfig } from '../config/types.js';
import { formatAmount } from '../money/amount.js';
import { tokenBalance } from '../payouts/chain.js';

export interface Balance {
  symbol: string;
  /** True for the chain's own coin (gas), false for a token. */
  native: boolean;
  decimals: number;
  raw: bigint;
  /** Exact decimal text in whole units. */
  amount: string;
}

export interface WalletBalances {
  role: 'collection';
  /** The configured chain name these balances are on. */
  chain: string;
  address: string;
  /** The native coin first (gas), then each configured token. */
  balances: Balance[];
  /** When these were read (ms); the balances stay shown, with their time, while the node is away. */
  readAt: number;
}

/**
 * An address's balances on one chain: the native coin first, then each token, exact in its decimals.
 * The calls go out together (one JSON-RPC batch on a batching client); `onError` counts each failed one.
 */
export async function readBalances(
  client: PublicClient,
  address: Hex,
  assets: { native: NativeCoinConfig; tokens: readonly TokenConfig[] },
  onError: (method: string) => void = () => {},
): Promise<Balance[]> {
  const read = <T>(method: string, call: () => Promise<T>) =>
    call().catch((err: unknown) => {
      onError(method);
      throw err;
    });
  const [native, ...tokenRaws] = await Promise.all([
    read('eth_getBalance', () => client.getBalance({ address })),
    ...assets.tokens.map((t) => read('eth_call', () => tokenBalance(client, t.addressLc, address))),
  ]);
  const { symbol, decimals } = assets.native;
  return [
    { symbol, native: true, decimals, raw: native, amount: formatAmount(native, decimals) },
    ...assets.tokens.map((t, i) => {
      const raw = tokenRaws[i] ?? 0n;
      return {
        symbol: t.symbol,
        native: false,
        decimals: t.decimals,
        raw,
        amount: formatAmount(raw, t.decimals),
      };
    }),
  ];
}

/** Reads the collection wallet's gas and token balances on one chain. */
export async function readCollectionBalances(
  chain: { name: string; client: PublicClient; native: NativeCoinConfig; tokens: readonly TokenConfig[] },
  address: Hex,
  onError: (method: string) => void,
): Promise<WalletBalances> {
  const balances = await readBalances(chain.client, address, chain, onError);
  return { role: 'collection', chain: chain.name, address, balances, readAt: Date.now() };
}

/** A balance as a float for Prometheus (display only; never used for money). */
export function balanceAsNumber(b: Balance): number {
  return Number(b.amount);
}
