/**
 * The chain side of a run, on anvil (`--no-mining`): the run mines, sends deposits from funded dev
 * accounts with nonces it keeps, and reorganises the last blocks with `anvil_reorg`, moving
 * transactions to other blocks or replacing a deposit for good with another transaction of the same
 * nonce. Every change to the chain goes through one lock, so a reorg never races a send or a block.
 */
import type { Address, Hash, Hex } from 'viem';
import { parseGwei } from 'viem';
import { transferEvent } from '../src/chain/token.js';
import type { TestChain } from '../test/helpers/chain.js';
import type { Random } from './random.js';

export interface DepositTx {
  hash: Hash;
  /** Dev account index of the sender. */
  sender: number;
  nonce: number;
  to: Address;
  raw: bigint;
  /** A reorg replaced it with another transaction of the same nonce: it can never be mined. */
  replaced: boolean;
  /** Times a reorg re-included it in another block. */
  moved: number;
}

export interface TransferLog {
  txHash: Hash;
  from: Address;
  to: Address;
  value: bigint;
  blockNumber: number;
  logIndex: number;
}

/** Dev accounts 1..9 send deposits (0 owns the token). */
export const depositSenders = [1, 2, 3, 4, 5, 6, 7, 8, 9];

const FEES = { maxFeePerGas: parseGwei('100'), maxPriorityFeePerGas: parseGwei('1'), gas: 100_000n };

export interface ChaosChain {
  /** Deposits sent, by hash (lowercase). */
  deposits: Map<string, DepositTx>;
  mine(blocks?: number): Promise<number>;
  sendDeposit(to: Address, raw: bigint): Promise<DepositTx>;
  /** Replaces the last `depth` blocks; returns what it did. */
  reorg(depth: number): Promise<{ depth: number; moved: number; replaced: number; txs: number }>;
  /** Every TestUSDT Transfer on the canonical chain from `fromBlock`, straight from anvil. */
  transfers(fromBlock: number): Promise<TransferLog[]>;
}

export async function createChaosChain(chain: TestChain, random: Random, floor: number): Promise<ChaosChain> {
  const deposits = new Map<string, DepositTx>();
  const nonces = new Map<number, number>();
  for (const s of depositSenders) {
    const address = chain.accounts[s]!.address;
    nonces.set(s, await chain.publicClient.getTransactionCount({ address, blockTag: 'pending' }));
  }
  let lock: Promise<unknown> = Promise.resolve();
  const locked = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = lock.catch(() => {}).then(fn);
    lock = next;
    return next;
  };
  const rpc = (method: string, params: unknown[]) =>
    (chain.publicClient.request as (a: { method: string; params: unknown[] }) => Promise<unknown>)({
      method,
      params,
    });

  return {
    deposits,
    mine: (blocks = 1) => locked(async () => Number(await chain.mine(blocks))),
    sendDeposit: (to, raw) =>
      locked(async () => {
        const sender = random.pick(depositSenders);
        const nonce = nonces.get(sender)!;
        const signed = await chain.signTransfer(sender, to, raw, { ...FEES, nonce });
        const hash = await chain.sendRawTransaction(signed);
        nonces.set(sender, nonce + 1);
        const tx: DepositTx = { hash, sender, nonce, to, raw, replaced: false, moved: 0 };
        deposits.set(hash.toLowerCase(), tx);
        return tx;
      }),
    reorg: (wanted) =>
      locked(async () => {
        const head = Number(await chain.blockNumber());
        const depth = Math.max(1, Math.min(wanted, head - floor));
        const entries: Hex[] = [];
        let moved = 0;
        let replaced = 0;
        for (let n = head - depth + 1; n <= head; n++) {
          const block = await chain.publicClient.getBlock({ blockNumber: BigInt(n) });
          for (const hash of block.transactions) {
            const deposit = deposits.get(hash.toLowerCase());
            if (deposit && !deposit.replaced && random.chance(0.4)) {
              // Removed for good: the same nonce now pays someone nobody watches.
              entries.push(
                await chain.signTransfer(deposit.sender, random.hex(20) as Address, 1n, {
                  ...FEES,
                  nonce: deposit.nonce,
                }),
              );
              deposit.replaced = true;
              replaced++;
              continue;
            }
            entries.push((await rpc('eth_getRawTransactionByHash', [hash])) as Hex);
            if (deposit) {
              deposit.moved++;
              moved++;
            }
          }
        }
        // Random new blocks, kept in the old order so every sender's nonces stay in sequence.
        const indexes = entries.map(() => random.int(0, depth - 1)).sort((a, b) => a - b);
        await chain.reorg(
          depth,
          entries.map((raw, i) => [raw, indexes[i]!]),
        );
        return { depth, moved, replaced, txs: entries.length };
      }),
    async transfers(fromBlock) {
      const logs = await chain.publicClient.getLogs({
        address: chain.token,
        event: transferEvent,
        fromBlock: BigInt(fromBlock),
        toBlock: 'latest',
      });
      return logs.map((l) => ({
        txHash: l.transactionHash.toLowerCase() as Hash,
        from: (l.args.from as string).toLowerCase() as Address,
        to: (l.args.to as string).toLowerCase() as Address,
        value: l.args.value as bigint,
        blockNumber: Number(l.blockNumber),
        logIndex: l.logIndex,
      }));
    },
  };
}
