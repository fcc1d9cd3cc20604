import type { Hex } from 'viem';
import type { RpcLog } from './rpc.js';

/** keccak256("Transfer(address,address,uint256)") */
export const TRANSFER_TOPIC: Hex = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';

/** An ERC-20 Transfer log, decoded. */
export interface TransferLog {
  tokenAddressLc: Hex;
  fromLc: Hex;
  toLc: Hex;
  amountRaw: bigint;
  txHash: Hex;
  logIndex: number;
  /** Position among the token Transfer logs of the same transaction: with txHash, the identity of the
   * transfer, which survives the transaction moving to another block. */
  txLogOrdinal: number;
  blockNumber: number;
  blockHash: Hex;
}

/**
 * Decodes Transfer logs by hand (topics and data are fixed-size), which is several times faster than a
 * generic ABI decoder over tens of thousands of logs. Logs that are not ERC-20 Transfers (ERC-721 has a
 * fourth topic) or are marked removed are skipped. Input must be in chain order, as eth_getLogs gives it.
 */
export function decodeTransferLogs(logs: readonly RpcLog[]): TransferLog[] {
  const out: TransferLog[] = [];
  const ordinals = new Map<string, number>();
  for (const log of logs) {
    if (log.removed || log.topics.length !== 3) continue;
    const [topic0, fromTopic, toTopic] = log.topics;
    if (topic0?.toLowerCase() !== TRANSFER_TOPIC || !fromTopic || !toTopic) continue;
    if (log.data.length < 66) continue;
    const txHash = log.transactionHash.toLowerCase() as Hex;
    const ordinal = ordinals.get(txHash) ?? 0;
    ordinals.set(txHash, ordinal + 1);
    out.push({
      tokenAddressLc: log.address.toLowerCase() as Hex,
      fromLc: `0x${fromTopic.slice(26).toLowerCase()}` as Hex,
      toLc: `0x${toTopic.slice(26).toLowerCase()}` as Hex,
      amountRaw: BigInt(log.data.slice(0, 66)),
      txHash,
      logIndex: Number.parseInt(log.logIndex, 16),
      txLogOrdinal: ordinal,
      blockNumber: Number.parseInt(log.blockNumber, 16),
      blockHash: log.blockHash.toLowerCase() as Hex,
    });
  }
  return out;
}
