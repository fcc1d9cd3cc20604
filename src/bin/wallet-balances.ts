import type { Hex } from 'viem';
import { createPayoutClient } from '../chain/payout-client.js';
import type { ChainConfig } from '../config/types.js';
import { errorMessage } from '../internal/errors.js';
import { defaultOptions } from '../internal/options.js';
import { redactUrls } from '../internal/redact.js';
import { type Balance, readBalances } from '../monitor/balances.js';

/** How long one chain's node gets to answer before its line shows an error (a node that hangs). */
const NODE_TIMEOUT_MS = 10_000;

/** One chain's balances of every wallet, or why they could not be read. */
type ChainBalances =
  | { chain: ChainConfig; balances: Map<Hex, Balance[]> }
  | { chain: ChainConfig; error: string };

/**
 * Every wallet's native and token balances on one chain, read from its first node in one JSON-RPC
 * batch, after checking that the node is on the configured chain (a balance of another chain would
 * mislead).
 */
async function readChain(chain: ChainConfig, wallets: readonly Hex[]): Promise<ChainBalances> {
  try {
    // The first node only: a one-shot command has no use for the ranking of several (and its timer).
    const client = createPayoutClient(chain.rpcUrl, {
      ...defaultOptions.payouts,
      rpcTimeoutMs: NODE_TIMEOUT_MS,
    });
    const chainId = await client.getChainId();
    if (chain.chainId !== undefined && chainId !== chain.chainId) {
      return { chain, error: `the node is on chain ${chainId}, not the configured ${chain.chainId}` };
    }
    const read = await Promise.all(wallets.map((w) => readBalances(client, w, chain)));
    return { chain, balances: new Map(wallets.map((w, i) => [w, read[i] ?? []])) };
  } catch (err) {
    // Scheme and host only: a provider's key in the URL never prints.
    const message = errorMessage(err).split('\n')[0] ?? 'no answer';
    return { chain, error: `node ${redactUrls(chain.rpcUrl)}: ${message}` };
  }
}

/**
 * `wallet list --balances`: each wallet's address, then one line per configured chain with its native
 * coin and each token, exact in their decimals; a chain whose node cannot be read shows its error on
 * its line and the other chains still show. `failed` is true when any chain could not be read.
 */
export async function walletBalanceLines(
  chains: readonly ChainConfig[],
  wallets: readonly Hex[],
): Promise<{ lines: string[]; failed: boolean }> {
  // Every chain's node at once: one that hangs costs its own timeout, not the sum.
  const read = await Promise.all(chains.map((chain) => readChain(chain, wallets)));
  const width = Math.max(...chains.map((c) => c.name.length));
  const lines: string[] = [];
  for (const wallet of wallets) {
    lines.push(wallet);
    for (const r of read) {
      const label = `  ${`${r.chain.name}:`.padEnd(width + 1)}`;
      if ('error' in r) {
        lines.push(`${label} error: ${r.error}`);
        continue;
      }
      const balances = r.balances.get(wallet) ?? [];
      lines.push(`${label} ${balances.map((b) => `${b.amount} ${b.symbol}`).join(', ')}`);
    }
  }
  return { lines, failed: read.some((r) => 'error' in r) };
}
