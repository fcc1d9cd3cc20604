import type { Address, Hex, PublicClient, TransactionSerializable } from 'viem';
import { batcherAbi, batcherDeployData } from './contract.js';

/** The fee fields of the deployment: EIP-1559, or a legacy gas price on a chain without it. */
export type DeployFees =
  | { type: 'eip1559'; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }
  | { type: 'legacy'; gasPrice: bigint };

export interface DeployBatcherDeps {
  client: PublicClient;
  /** The deploying wallet: the owner the contract gets (the collection wallet). */
  from: Address;
  chainId: number;
  fees: DeployFees;
  /** Signs with `from`'s key (the vault), returns the serialized transaction. */
  signTransaction(tx: TransactionSerializable): Promise<Hex>;
  /** How often the receipt is asked for, and for how long. */
  pollingIntervalMs?: number;
  timeoutMs?: number;
}

export interface DeployedBatcher {
  address: Hex;
  txHash: Hex;
  gasUsed: bigint;
}

/** The node's estimate plus a fifth: a deployment's estimate is exact, the margin covers a fork rule. */
const GAS_MARGIN_PCT = 20n;

/**
 * Deploys a batcher owned by `from`, waits for its receipt, and checks the chain now has its code and the
 * owner it was given. Rejects when the deployment reverted or did not show within `timeoutMs`.
 */
export async function deployBatcher(deps: DeployBatcherDeps): Promise<DeployedBatcher> {
  const { client, from } = deps;
  const data = batcherDeployData(from);
  const estimate = await client.estimateGas({ account: from, data });
  const nonce = await client.getTransactionCount({ address: from, blockTag: 'pending' });
  const common = { chainId: deps.chainId, nonce, gas: estimate + (estimate * GAS_MARGIN_PCT) / 100n, data };
  const tx: TransactionSerializable =
    deps.fees.type === 'legacy'
      ? { ...common, type: 'legacy', gasPrice: deps.fees.gasPrice }
      : {
          ...common,
          type: 'eip1559',
          maxFeePerGas: deps.fees.maxFeePerGas,
          maxPriorityFeePerGas: deps.fees.maxPriorityFeePerGas,
        };
  const txHash = await client.sendRawTransaction({ serializedTransaction: await deps.signTransaction(tx) });
  const receipt = await client.waitForTransactionReceipt({
    hash: txHash,
    pollingInterval: deps.pollingIntervalMs ?? 1000,
    timeout: deps.timeoutMs ?? 300_000,
  });
  if (receipt.status !== 'success' || !receipt.contractAddress)
    throw new Error(`the batcher's deployment ${txHash} reverted`);
  const address = receipt.contractAddress.toLowerCase() as Hex;
  const owner = await client.readContract({ address, abi: batcherAbi, functionName: 'owner' });
  if (owner.toLowerCase() !== from.toLowerCase())
    throw new Error(`the contract at ${address} is owned by ${owner}, not ${from}`);
  return { address, txHash, gasUsed: receipt.gasUsed };
}
