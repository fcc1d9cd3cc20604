import {
  BaseError,
  ExecutionRevertedError,
  encodeFunctionData,
  type Hex,
  NonceTooLowError,
  type PublicClient,
} from 'viem';
import { usdtAbi } from '../chain/token.js';
import { TRANSFER_TOPIC } from '../chain/transfers.js';
import { isNativeAddress } from '../config/chains.js';

export interface RawReceipt {
  transactionHash: Hex;
  blockHash: Hex;
  blockNumber: Hex;
  status: Hex;
  from?: Hex;
  to?: Hex | null;
  gasUsed: Hex;
  effectiveGasPrice?: Hex;
  logs?: { address: Hex; topics: Hex[]; data: Hex }[];
}

/**
 * Whether a receipt carries the token's `Transfer(sender → to, amount)`: success alone is not enough,
 * since a token whose `transfer` returns false instead of reverting "succeeds" without moving anything.
 */
export function receiptPays(
  receipt: RawReceipt,
  payout: { token: string; sender: string; to: string; amountRaw: bigint },
): boolean {
  const topicOf = (address: string) => `0x${address.slice(2).toLowerCase().padStart(64, '0')}`;
  return (receipt.logs ?? []).some(
    (log) =>
      log.address.toLowerCase() === payout.token.toLowerCase() &&
      log.topics[0]?.toLowerCase() === TRANSFER_TOPIC &&
      log.topics[1]?.toLowerCase() === topicOf(payout.sender) &&
      log.topics[2]?.toLowerCase() === topicOf(payout.to) &&
      log.data !== '0x' &&
      BigInt(log.data) === payout.amountRaw,
  );
}

/** A transaction's sender, recipient and value, as the node has it. */
export interface RawTransaction {
  hash: Hex;
  from: Hex;
  to: Hex | null;
  value: Hex;
}

/** The payout a mined transaction must have paid: `token` is NATIVE_ADDRESS_LC for the native coin. */
export interface PaidPayout {
  token: string;
  sender: string;
  to: string;
  amountRaw: bigint;
  /** The payout is a call with its own calldata to `to` (a batch, an approval), not a transfer. */
  call?: boolean;
}

/**
 * Whether a native-coin transaction paid the payout: a successful receipt of a transaction from the
 * sender to the recipient carrying exactly the amount (a plain value transfer has no log to look at).
 */
export function nativeTransferPays(
  receipt: RawReceipt,
  tx: RawTransaction,
  payout: Omit<PaidPayout, 'token'>,
): boolean {
  const same = (a: string | null | undefined, b: string) => a?.toLowerCase() === b.toLowerCase();
  return (
    BigInt(receipt.status) === 1n &&
    same(tx.hash, receipt.transactionHash) &&
    same(tx.from, payout.sender) &&
    same(tx.to, payout.to) &&
    BigInt(tx.value) === payout.amountRaw
  );
}

/**
 * Whether a mined transaction paid the payout: its token's Transfer in the receipt (`receiptPays`), or for
 * the native coin the transaction itself (`nativeTransferPays`, read from the node). A status of 1 is
 * never enough alone.
 */
export async function minedTransactionPays(
  client: PublicClient,
  receipt: RawReceipt,
  payout: PaidPayout,
): Promise<boolean> {
  if (BigInt(receipt.status) !== 1n) return false;
  // A contract call of our own (a batch, an approval) did its work when it succeeded, at the contract it
  // was made for: a batch's payments are each settled by their own events.
  if (payout.call) return receipt.to?.toLowerCase() === payout.to.toLowerCase();
  if (!isNativeAddress(payout.token)) return receiptPays(receipt, payout);
  const tx = await getTransaction(client, receipt.transactionHash);
  // A lagging backend that has the receipt but not the transaction yet: ask again, never read it as
  // "did not pay" (that would answer a paid payout as failed).
  if (!tx) throw new Error(`the node has the receipt of ${receipt.transactionHash} but not the transaction`);
  return nativeTransferPays(receipt, tx, payout);
}

/** The transaction with this hash, or null when the node does not know it. */
export async function getTransaction(client: PublicClient, hash: string): Promise<RawTransaction | null> {
  return (await client.request({
    method: 'eth_getTransactionByHash',
    params: [hash as Hex],
  })) as unknown as RawTransaction | null;
}

/** null while the transaction is not in the canonical chain. */
export async function getReceipt(client: PublicClient, hash: string): Promise<RawReceipt | null> {
  return (await client.request({
    method: 'eth_getTransactionReceipt',
    params: [hash as Hex],
  })) as unknown as RawReceipt | null;
}

export function transferCalldata(to: Hex, amountRaw: bigint): Hex {
  return encodeFunctionData({ abi: usdtAbi, functionName: 'transfer', args: [to, amountRaw] });
}

export async function tokenBalance(
  client: PublicClient,
  token: Hex,
  owner: Hex,
  blockNumber?: bigint,
): Promise<bigint> {
  return client.readContract({
    address: token,
    abi: usdtAbi,
    functionName: 'balanceOf',
    args: [owner],
    ...(blockNumber === undefined ? {} : { blockNumber }),
  });
}

/**
 * The outcome of a broadcast, mapped where the node's error enters:
 * - `sent`: the node took it;
 * - `known`: the node has it already, or its nonce is used (ours may be mined): look at the receipts, never
 *   sign again;
 * - `retry`: anything else (node down, underpriced replacement, …): the stored transaction is sent again later.
 */
export type BroadcastOutcome = { kind: 'sent' } | { kind: 'known' } | { kind: 'retry'; reason: string };

export async function broadcast(client: PublicClient, raw: Hex): Promise<BroadcastOutcome> {
  try {
    await client.request({ method: 'eth_sendRawTransaction', params: [raw] });
    return { kind: 'sent' };
  } catch (err) {
    const message = errorDetails(err);
    if (NonceTooLowError.nodeMessage.test(message)) return { kind: 'known' };
    return { kind: 'retry', reason: message.split('\n')[0] ?? message };
  }
}

/** Whether an estimateGas/eth_call failure means "this call reverts" (not a node or network problem). */
export function isRevert(err: unknown): boolean {
  if (err instanceof BaseError) {
    if (err.walk((e) => e instanceof ExecutionRevertedError)) return true;
  }
  return ExecutionRevertedError.nodeMessage.test(errorDetails(err));
}

export function errorDetails(err: unknown): string {
  if (err instanceof BaseError) return `${err.details ?? ''} ${err.shortMessage}`.trim();
  return err instanceof Error ? err.message : String(err);
}
