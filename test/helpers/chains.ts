import type { Hex } from 'viem';
import type { ChainConfig } from '../../src/config/types.js';
import type { TestChain } from './chain.js';
import type { TcpProxy } from './tcp-proxy.js';

/** The chain id the tests give their second anvil (a BSC of their own). */
export const BSC_CHAIN_ID = 31_338;

/**
 * A `chains` entry for a test's second chain, `BSC`: native BNB (18 decimals), the test chain's token as
 * an 18-decimal USDT, its node reached through `proxy` (HTTP and WebSocket share anvil's port) so that
 * the test can cut it.
 */
export function bscChainConfig(
  bsc: TestChain,
  proxy: TcpProxy,
  settings: Partial<Pick<ChainConfig, 'confirmHeight' | 'collectionAddressLc'>> = {},
): ChainConfig {
  const url = (scheme: string) => `${scheme}://${proxy.address}`;
  return {
    name: 'BSC',
    chainId: bsc.anvil.chainId,
    rpcUrl: url('http'),
    wsUrl: url('ws'),
    rpcUrls: [url('http')],
    wsUrls: [url('ws')],
    confirmHeight: settings.confirmHeight ?? 3,
    native: { symbol: 'BNB', decimals: 18 },
    tokens: [{ symbol: 'USDT', addressLc: bsc.token.toLowerCase() as Hex, decimals: 18 }],
    collectionAddressLc: settings.collectionAddressLc,
    maxFeePerGasWei: 20n * 10n ** 9n,
    replaceAfterBlocks: 3,
  };
}
