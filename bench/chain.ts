import { randomBytes, randomInt } from 'node:crypto';
import { type Address, encodeFunctionData, type Hex, type LocalAccount, parseGwei } from 'viem';
import { testUsdtAbi } from '../src/chain/token.js';
import { createTestChain, type TestChain } from '../test/helpers/chain.js';

/** Dev accounts 1..SENDERS send the bench's transfers (0 owns the token). */
const SENDERS = 4;
const MAX_FEE = parseGwei('50');
const TIP = parseGwei('1');

export interface BenchChain {
  chain: TestChain;
  senders: LocalAccount[];
  /** Signs with explicit nonces (kept here): nothing waits on the node between signatures. */
  signMultiTransfer(from: LocalAccount, to: Address[], amounts: bigint[]): Promise<Hex>;
  signTransfer(from: LocalAccount, to: Address, amount: bigint): Promise<Hex>;
  /** eth_sendRawTransaction in JSON-RPC batches; throws on the first refused transaction. */
  sendRaw(raws: Hex[]): Promise<Hex[]>;
  /** evm_mine of one block (the caller takes the time just before). */
  mineOne(): Promise<void>;
  head(): Promise<number>;
  stop(): Promise<void>;
}

/** anvil with --no-mining, TestUSDT deployed, and senders with tokens. */
export async function startBenchChain(): Promise<BenchChain> {
  const chain = await createTestChain({ noMining: true, accounts: SENDERS + 1 });
  try {
    await chain.deployToken();
    const senders = chain.accounts.slice(1, SENDERS + 1).map((a) => a.account);
    for (const s of senders) await chain.mint(s.address, 10n ** 18n);
    const nonces = new Map<Address, number>();
    for (const s of senders) {
      nonces.set(s.address, await chain.publicClient.getTransactionCount({ address: s.address }));
    }
    const nextNonce = (from: LocalAccount) => {
      const n = nonces.get(from.address) ?? 0;
      nonces.set(from.address, n + 1);
      return n;
    };
    const sign = (from: LocalAccount, data: Hex, gas: bigint) =>
      from.signTransaction({
        chainId: chain.chain.id,
        type: 'eip1559',
        to: chain.token,
        data,
        gas,
        nonce: nextNonce(from),
        maxFeePerGas: MAX_FEE,
        maxPriorityFeePerGas: TIP,
      });
    const rpcUrl = chain.anvil.rpcUrl;
    return {
      chain,
      senders,
      signMultiTransfer: (from, to, amounts) =>
        sign(
          from,
          encodeFunctionData({ abi: testUsdtAbi, functionName: 'multiTransfer', args: [to, amounts] }),
          60_000n + 40_000n * BigInt(to.length),
        ),
      signTransfer: (from, to, amount) =>
        sign(
          from,
          encodeFunctionData({ abi: testUsdtAbi, functionName: 'transfer', args: [to, amount] }),
          100_000n,
        ),
      async sendRaw(raws) {
        const hashes: Hex[] = [];
        for (let i = 0; i < raws.length; i += 500) {
          const batch = raws.slice(i, i + 500).map((raw, j) => ({
            jsonrpc: '2.0',
            id: i + j,
            method: 'eth_sendRawTransaction',
            params: [raw],
          }));
          const answers = (await rpcBatch(rpcUrl, batch)) as { id: number; result?: Hex; error?: unknown }[];
          answers.sort((a, b) => a.id - b.id);
          for (const a of answers) {
            if (!a.result) throw new Error(`eth_sendRawTransaction refused: ${JSON.stringify(a.error)}`);
            hashes.push(a.result);
          }
        }
        return hashes;
      },
      async mineOne() {
        await rpcBatch(rpcUrl, { jsonrpc: '2.0', id: 1, method: 'evm_mine', params: [] });
      },
      head: async () => Number(await chain.blockNumber()),
      stop: () => chain.stop(),
    };
  } catch (err) {
    await chain.stop();
    throw err;
  }
}

export interface TransferRange {
  fromBlock: number;
  toBlock: number;
  logs: number;
}

/**
 * Puts `logs` Transfer logs on chain, the i-th to `recipientOf(i)`: multiTransfer transactions of
 * `logsPerTx` recipients each, signed here from the senders in turn and sent in JSON-RPC batches,
 * `logsPerBlock` logs per mined block; then `confirmHeight + 1` empty blocks, so that a watcher behind
 * takes the whole range by eth_getLogs ranges.
 */
export async function putTransferRange(
  bc: BenchChain,
  recipientOf: (i: number) => Address,
  sizes: { logs: number; logsPerTx: number; logsPerBlock: number; confirmHeight: number },
): Promise<TransferRange> {
  const txs: Hex[] = [];
  for (let i = 0, t = 0; i < sizes.logs; i += sizes.logsPerTx, t++) {
    const to = Array.from({ length: Math.min(sizes.logsPerTx, sizes.logs - i) }, (_, k) =>
      recipientOf(i + k),
    );
    txs.push(await bc.signMultiTransfer(bc.senders[t % bc.senders.length]!, to, to.map(randomAmount)));
  }
  const fromBlock = (await bc.head()) + 1;
  const txsPerBlock = Math.max(1, Math.floor(sizes.logsPerBlock / sizes.logsPerTx));
  for (let i = 0; i < txs.length; i += txsPerBlock) {
    await bc.sendRaw(txs.slice(i, i + txsPerBlock));
    await bc.mineOne();
  }
  const toBlock = await bc.head();
  await bc.chain.mine(sizes.confirmHeight + 1);
  return { fromBlock, toBlock, logs: sizes.logs };
}

export async function rpcBatch(url: string, body: unknown): Promise<unknown> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`JSON-RPC HTTP ${response.status}`);
  const json = (await response.json()) as { error?: unknown };
  if (!Array.isArray(json) && json.error) throw new Error(`JSON-RPC error: ${JSON.stringify(json.error)}`);
  return json;
}

export function randomAddresses(n: number): Address[] {
  const bytes = randomBytes(20 * n).toString('hex');
  return Array.from({ length: n }, (_, i) => `0x${bytes.slice(i * 40, i * 40 + 40)}` as Address);
}

/** A USDT amount of 0.000001 to 1000 tokens, in base units. */
export function randomAmount(): bigint {
  return BigInt(randomInt(1, 1_000_000_001));
}
