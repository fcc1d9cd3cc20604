import { join } from 'node:path';
import { createPublicClient, createWalletClient, type Hex, http } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import { deployBatcher } from '../batch/deploy.js';
import { type AnvilInstance, findFreePort, startAnvil } from '../chain/anvil.js';
import { testTokenDeployData, testUsdtAbi } from '../chain/token.js';
import type { NativeCoinConfig } from '../config/types.js';

/** anvil's well-known development mnemonic: its accounts hold test coins only. */
export const DEVNET_MNEMONIC = 'test test test test test test test test test test test junk';
/** Dev account used as the collection (hot) wallet on every chain: 10,000 test coins and a million test USDT. */
export const DEVNET_COLLECTION_INDEX = 5;

export function devnetAccount(index: number) {
  return mnemonicToAccount(DEVNET_MNEMONIC, { addressIndex: index });
}

/** One chain of the devnet: its own anvil, its test USDT, its native coin. */
export interface DevnetChainSpec {
  /** The `chain` the messages name. */
  name: string;
  chainId: number;
  /** The port its anvil takes when it is free (else any free port). */
  preferredPort: number;
  confirmHeight: number;
  native: NativeCoinConfig;
  /** The test USDT's decimals: 6 like Ethereum's USDT, 18 like BSC-USD. */
  tokenDecimals: number;
  /** The dev account that deploys (and mints) the test USDT: another one per chain, so the chains' tokens
   * have different addresses, as on the real chains, and a token taken for another chain's shows. */
  deployerIndex: number;
  maxFeeGwei: number;
  /** anvil's state file under the data directory, so the chain survives restarts. */
  stateFile: string;
}

/**
 * The devnet's chains. ETH is anvil's default chain id and keeps the state file of the one-chain devnet,
 * so a devnet made by an older version keeps its chain. BSC is 31338: next to anvil's own id, used by
 * no public network, so that nothing signed on the devnet (with keys the whole world knows) could be
 * replayed on BSC (56) or its testnet (97).
 */
export const DEVNET_CHAINS: readonly DevnetChainSpec[] = [
  {
    name: 'ETH',
    chainId: 31337,
    preferredPort: 8545,
    confirmHeight: 6,
    native: { symbol: 'ETH', decimals: 18 },
    tokenDecimals: 6,
    deployerIndex: 0,
    maxFeeGwei: 500,
    stateFile: 'anvil-state.json',
  },
  {
    name: 'BSC',
    chainId: 31338,
    preferredPort: 8546,
    confirmHeight: 4,
    native: { symbol: 'BNB', decimals: 18 },
    tokenDecimals: 18,
    deployerIndex: 1,
    maxFeeGwei: 20,
    stateFile: 'anvil-state-bsc.json',
  },
];

/** A devnet chain running: its anvil and its test USDT. */
export interface DevnetChainRun {
  spec: DevnetChainSpec;
  anvil: AnvilInstance;
  tokenAddress: Hex;
  /** The token remembered for this chain was gone: its anvil's state was lost, what the database knows of it no longer holds. */
  wasReset: boolean;
  /** The test token was deployed in this start (a new chain, or one reset). */
  deployed: boolean;
  /** The batcher contract (batch payouts), owned by the collection wallet. */
  batcherAddress: Hex;
}

/**
 * Starts the chain's anvil (one block a second, state in `dataDir/spec.stateFile`) and makes sure its
 * test USDT and its batcher are there: those at `known` if the chain still has them, else fresh
 * deployments. Stops the anvil again when that fails.
 */
export async function startDevnetChain(
  spec: DevnetChainSpec,
  dataDir: string,
  known: { tokenAddress?: Hex; batcherAddress?: Hex } = {},
): Promise<DevnetChainRun> {
  const port = (await isPortFree(spec.preferredPort)) ? spec.preferredPort : await findFreePort();
  const statePath = join(dataDir, spec.stateFile);
  const anvil = await startAnvil({ port, blockTime: 1, chainId: spec.chainId, statePath, stateInterval: 5 });
  try {
    if (anvil.chainId !== spec.chainId)
      throw new Error(`${statePath} is of chain ${anvil.chainId}, not ${spec.name}'s ${spec.chainId}`);
    const client = createPublicClient({ transport: http(anvil.rpcUrl), cacheTime: 0 });
    const hasCode = async (address: Hex | undefined) =>
      address !== undefined && ((await client.getCode({ address })) ?? '0x') !== '0x';
    const tokenKept = await hasCode(known.tokenAddress);
    const tokenAddress = tokenKept
      ? known.tokenAddress!
      : await deployTestToken(anvil.rpcUrl, spec.tokenDecimals, spec.deployerIndex);
    const batcherAddress = (await hasCode(known.batcherAddress))
      ? known.batcherAddress!
      : await deployDevnetBatcher(anvil.rpcUrl, spec.chainId);
    const wasReset = !tokenKept && known.tokenAddress !== undefined;
    return { spec, anvil, tokenAddress, batcherAddress, wasReset, deployed: !tokenKept };
  } catch (err) {
    await anvil.stop();
    throw err;
  }
}

/**
 * Deploys the batcher from the collection wallet, its owner, as `contracts deploy-batcher` would. Done
 * before the service starts, so the nonce it takes races no payout.
 */
export async function deployDevnetBatcher(rpcUrl: string, chainId: number): Promise<Hex> {
  const collection = devnetAccount(DEVNET_COLLECTION_INDEX);
  const client = createPublicClient({ transport: http(rpcUrl), cacheTime: 0 });
  const fees = await client.estimateFeesPerGas();
  const deployed = await deployBatcher({
    client,
    from: collection.address,
    chainId,
    fees: {
      type: 'eip1559',
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    },
    signTransaction: (tx) => collection.signTransaction(tx),
    pollingIntervalMs: 100,
  });
  return deployed.address;
}

/**
 * Deploys a test USDT of `decimals` from dev account `deployerIndex` and gives dev accounts 0–5 (the
 * collection wallet among them) a million each.
 */
export async function deployTestToken(rpcUrl: string, decimals = 6, deployerIndex = 0): Promise<Hex> {
  const owner = devnetAccount(deployerIndex);
  const wallet = createWalletClient({ account: owner, transport: http(rpcUrl) });
  const publicClient = createPublicClient({ transport: http(rpcUrl), cacheTime: 0 });
  const hash = await wallet.sendTransaction({ data: testTokenDeployData(decimals), chain: null });
  const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 100 });
  const token = receipt.contractAddress;
  if (!token) throw new Error('test token deployment has no contract address');
  for (let i = 0; i <= DEVNET_COLLECTION_INDEX; i++) {
    const mint = await wallet.writeContract({
      address: token,
      abi: testUsdtAbi,
      functionName: 'mint',
      args: [devnetAccount(i).address, 1_000_000n * 10n ** BigInt(decimals)],
      chain: null,
    });
    await publicClient.waitForTransactionReceipt({ hash: mint, pollingInterval: 100 });
  }
  return token.toLowerCase() as Hex;
}

export async function isPortFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePort(true)));
  });
}
