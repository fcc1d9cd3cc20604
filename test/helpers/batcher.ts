import { type Address, parseGwei } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { deployBatcher } from '../../src/batch/deploy.js';
import type { TestChain } from './chain.js';
import type { TestWallet } from './payouts.js';

/**
 * Deploys a batcher owned by `owner` (setup, not under test: `contracts deploy-batcher` is tested on its
 * own). On a chain that mines on demand, a block every 200 ms until the deployment is in one.
 */
export async function deployTestBatcher(chain: TestChain, owner: TestWallet): Promise<Address> {
  const block = await chain.publicClient.getBlock();
  const deploying = deployBatcher({
    client: chain.publicClient,
    from: owner.address,
    chainId: chain.chain.id,
    fees: {
      type: 'eip1559',
      maxFeePerGas: (block.baseFeePerGas ?? 0n) * 2n + parseGwei('1'),
      maxPriorityFeePerGas: parseGwei('1'),
    },
    signTransaction: (tx) => privateKeyToAccount(owner.privateKey).signTransaction(tx),
    pollingIntervalMs: 50,
  });
  const mining = setInterval(() => void chain.mine(1).catch(() => undefined), 200);
  try {
    return (await deploying).address;
  } finally {
    clearInterval(mining);
  }
}
