import { type Hex, hexToBytes, keccak256 } from 'viem';
import { walkCauses } from '../internal/errors.js';
import type { RpcLog } from './rpc.js';

/**
 * Checks of eth_getLogs answers against the block they claim to describe. A provider that balances calls
 * over several backends can answer a block's header from one that has it and its logs from one that does
 * not yet (`[]`, or "header not found"); an answer that does not agree with the block is retried, never
 * taken as "no transfers".
 */

/** The node does not have it yet (a lagging backend): retry soon, never read it as "empty" or "reorganised". */
export class NotYetError extends Error {
  override readonly name = 'NotYetError';
}

/** Errors that mean "this backend does not know the block yet". */
const NOT_YET_PATTERN = /header not found|unknown block|block not found/i;

/** Whether `err` (or a cause of it) says the node does not know the block yet. */
export function isNotYet(err: unknown): boolean {
  return (
    walkCauses(
      err,
      (e) => e instanceof NotYetError || (e instanceof Error && NOT_YET_PATTERN.test(e.message)),
    ) !== undefined
  );
}

const BLOOM_BYTES = 256;

/** The three bloom bits of one item (an address or a topic), as (byte index, mask) pairs. */
function bloomBits(item: Hex): [number, number][] {
  const hash = hexToBytes(keccak256(item));
  const bits: [number, number][] = [];
  for (let i = 0; i < 6; i += 2) {
    const bit = ((hash[i]! << 8) | hash[i + 1]!) & 2047;
    bits.push([BLOOM_BYTES - 1 - (bit >> 3), 1 << (bit & 7)]);
  }
  return bits;
}

function bloomBytes(bloom: Hex): Uint8Array {
  const bytes = hexToBytes(bloom);
  if (bytes.length !== BLOOM_BYTES)
    throw new Error(`a logs bloom has ${BLOOM_BYTES} bytes, not ${bytes.length}`);
  return bytes;
}

/** Whether the block's `logsBloom` may hold `item` (false: certainly not; true: maybe). */
export function bloomMayContain(bloom: Hex, item: Hex): boolean {
  const bytes = bloomBytes(bloom);
  return bloomBits(item).every(([index, mask]) => (bytes[index]! & mask) !== 0);
}

/** Whether a block with this bloom may hold a log of one of `addresses` with topic `topic0`. */
export function bloomMayHoldLogs(bloom: Hex, addresses: readonly Hex[], topic0: Hex): boolean {
  return bloomMayContain(bloom, topic0) && addresses.some((a) => bloomMayContain(bloom, a));
}

/** The bloom of a set of logs (every address and topic), as a block header carries it. */
export function bloomOfLogs(logs: readonly Pick<RpcLog, 'address' | 'topics'>[]): Hex {
  const bytes = new Uint8Array(BLOOM_BYTES);
  for (const log of logs) {
    for (const item of [log.address, ...log.topics]) {
      for (const [index, mask] of bloomBits(item)) bytes[index]! |= mask;
    }
  }
  return `0x${Buffer.from(bytes).toString('hex')}` as Hex;
}

/** Whether two blooms are the same bits. */
export function sameBloom(a: Hex, b: Hex): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * What is wrong with the logs an eth_getLogs by block hash gave for this block, or undefined when they
 * agree with it: each log of this block (hash and number), none removed, log indexes increasing.
 */
export function blockLogsProblem(
  block: { number: number; hash: Hex },
  logs: readonly RpcLog[],
): string | undefined {
  let lastIndex = -1;
  for (const log of logs) {
    if (log.removed) return 'a log is marked removed';
    if (log.blockHash?.toLowerCase() !== block.hash) return `a log of block ${log.blockHash}`;
    if (Number(BigInt(log.blockNumber)) !== block.number) return `a log of block number ${log.blockNumber}`;
    const index = Number(BigInt(log.logIndex));
    if (index <= lastIndex) return `log index ${index} after ${lastIndex}`;
    lastIndex = index;
  }
  return undefined;
}

/**
 * What is wrong with the logs of an eth_getLogs over [from, to], or undefined when they agree with it:
 * every log within the range, none removed, in chain order (block number, then log index).
 */
export function rangeLogsProblem(from: number, to: number, logs: readonly RpcLog[]): string | undefined {
  let lastBlock = -1;
  let lastIndex = -1;
  for (const log of logs) {
    if (log.removed) return 'a log is marked removed';
    const block = Number(BigInt(log.blockNumber));
    if (block < from || block > to) return `a log of block ${block}, outside ${from}..${to}`;
    const index = Number(BigInt(log.logIndex));
    if (block < lastBlock || (block === lastBlock && index <= lastIndex))
      return `log ${block}/${index} after ${lastBlock}/${lastIndex}`;
    lastBlock = block;
    lastIndex = index;
  }
  return undefined;
}
