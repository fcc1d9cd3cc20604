import type { Hex } from 'viem';
import { describe, expect, it } from 'vitest';
import { NotYetError } from './log-check.js';
import { type BlockLink, createNativeTransferReader, mergeInChainOrder } from './native-transfers.js';
import type { ChainRpc } from './rpc.js';
import type { TransferLog } from './transfers.js';

const hash = (n: number, fork = 0) => `0x${(fork * 1000 + n).toString(16).padStart(64, '0')}` as Hex;
const link = (n: number, fork = 0, parentFork = fork): BlockLink => ({
  number: n,
  hash: hash(n, fork),
  parentHash: hash(n - 1, parentFork),
});
const transfer = (blockNumber: number, txHash: string): TransferLog =>
  ({ blockNumber, txHash }) as unknown as TransferLog;

/** checkRange reads no node: only what the range's fetch resolved. */
const reader = createNativeTransferReader({} as ChainRpc, {
  watchedAmong: async () => new Set(),
  concurrency: 1,
});
const fetched = (links: BlockLink[], transfers: TransferLog[] = []) => ({
  from: links[0]?.number ?? 0,
  end: links.at(-1)?.number ?? 0,
  result: Promise.resolve({ links, transfers }),
  cancel() {},
});

describe('a backfill range of native transfers', () => {
  const parent = { number: 10, hash: hash(10) };
  const end = { number: 13, hash: hash(13) };

  it('is taken when its blocks make one chain from the tip to the checked end block', async () => {
    const transfers = [transfer(12, '0xaa')];
    await expect(
      reader.checkRange(fetched([link(11), link(12), link(13)], transfers), parent, end),
    ).resolves.toEqual(transfers);
  });

  it('is "not yet" when a block is of another fork, missing, or the range ends elsewhere', async () => {
    const cases: BlockLink[][] = [
      [link(11), link(12, 1), link(13, 0, 1)], // a stale fork in the middle
      [link(11, 1, 1), link(12), link(13)], // does not follow the tip
      [link(11), link(13)], // a block left out
      [link(11), link(12)], // ends before the end block
    ];
    for (const links of cases) {
      await expect(reader.checkRange(fetched(links), parent, end)).rejects.toBeInstanceOf(NotYetError);
    }
    // One chain, but not the one whose end block the token logs were checked against.
    const otherEnd = { number: 13, hash: hash(13, 2) };
    await expect(
      reader.checkRange(fetched([link(11), link(12), link(13)]), parent, otherEnd),
    ).rejects.toBeInstanceOf(NotYetError);
  });
});

describe('mergeInChainOrder', () => {
  it('orders by block, a block’s native transfers before its token logs', () => {
    const native = [transfer(5, 'n5'), transfer(7, 'n7'), transfer(9, 'n9')];
    const tokens = [transfer(4, 't4'), transfer(5, 't5'), transfer(8, 't8')];
    expect(mergeInChainOrder(native, tokens).map((t) => t.txHash)).toEqual([
      't4',
      'n5',
      't5',
      'n7',
      't8',
      'n9',
    ]);
    expect(mergeInChainOrder([], tokens)).toBe(tokens);
  });
});
