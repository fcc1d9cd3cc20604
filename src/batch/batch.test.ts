import {
  type Address,
  decodeFunctionData,
  encodeAbiParameters,
  encodeEventTopics,
  getAddress,
  type Hex,
  keccak256,
  stringToHex,
} from 'viem';
import { describe, expect, it } from 'vitest';
import { usdtAbi } from '../chain/token.js';
import { allowanceCalls, batchTotal } from './allowance.js';
import { type BatchItem, batcherAbi, batchRef, batchTransferData, readContractArtifact } from './contract.js';
import { decodeBatchOutcomes, settleBatch } from './outcomes.js';

const BATCHER = '0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const TOKEN = '0x7777777777777777777777777777777777777777';
const addr = (n: number) => `0x${n.toString(16).padStart(40, '0')}` as Address;

/** A log as the batcher emits it. */
function eventLog(
  name: 'Transferred' | 'TransferFailed',
  ref: Hex,
  to: Address,
  amount: bigint,
  at = BATCHER,
) {
  const topics = encodeEventTopics({ abi: batcherAbi, eventName: name, args: { ref, to } }) as Hex[];
  return { address: at, topics, data: encodeAbiParameters([{ type: 'uint256' }], [amount]) };
}

describe('the batcher contract', () => {
  it('has the ABI written in contract.ts: the same functions, events and errors as compiled', () => {
    type Param = { type: string; indexed?: boolean };
    type Item = {
      type: string;
      name?: string;
      inputs?: Param[];
      outputs?: Param[];
      stateMutability?: string;
    };
    const params = (list: Param[] = []) =>
      list.map((p) => `${p.type}${p.indexed ? ' indexed' : ''}`).join(',');
    const signatures = (abi: readonly unknown[]) =>
      (abi as Item[])
        .map(
          (i) =>
            `${i.type} ${i.name ?? ''}(${params(i.inputs)}) ${i.stateMutability ?? ''} (${params(i.outputs)})`,
        )
        .sort();
    expect(signatures(batcherAbi)).toEqual(signatures(readContractArtifact('Batcher').abi));
    expect(readContractArtifact('Batcher').bytecode).toMatch(/^0x60[0-9a-f]+$/);
  });

  it('tags a payment with the hash of its id, and encodes the batch in order', () => {
    expect(batchRef('q-1')).toBe(keccak256(stringToHex('q-1')));
    expect(batchRef('q-1')).not.toBe(batchRef('q-2'));
    const items: BatchItem[] = [
      { to: addr(1), amountRaw: 5n, ref: batchRef('a') },
      { to: addr(2), amountRaw: 10n ** 30n, ref: batchRef('b') },
    ];
    const { functionName, args } = decodeFunctionData({
      abi: batcherAbi,
      data: batchTransferData(TOKEN, items),
    });
    expect(functionName).toBe('batchTransfer');
    expect(args).toEqual([TOKEN, [addr(1), addr(2)], [5n, 10n ** 30n], [batchRef('a'), batchRef('b')]]);
  });

  it('refuses an empty batch, a ref used twice and a negative amount', () => {
    expect(() => batchTransferData(TOKEN, [])).toThrow('at least one payment');
    const ref = batchRef('x');
    const twice = [
      { to: addr(1), amountRaw: 1n, ref },
      { to: addr(2), amountRaw: 1n, ref: ref.toUpperCase().replace('0X', '0x') as Hex },
    ];
    expect(() => batchTransferData(TOKEN, twice)).toThrow('share a ref');
    expect(() => batchTransferData(TOKEN, [{ to: addr(1), amountRaw: -1n, ref }])).toThrow('negative');
  });
});

describe('decodeBatchOutcomes and settleBatch', () => {
  const items: BatchItem[] = [1, 2, 3, 4].map((n) => ({
    to: addr(n),
    amountRaw: BigInt(n * 100),
    ref: batchRef(`q${n}`),
  }));
  const transferLog = {
    address: TOKEN,
    topics: [keccak256(stringToHex('Transfer(address,address,uint256)')), addr(9), addr(1)] as Hex[],
    data: encodeAbiParameters([{ type: 'uint256' }], [100n]),
  };

  it("reads each payment's event in log order, leaving out the token's logs and another batcher's", () => {
    const receipt = {
      logs: [
        transferLog,
        eventLog('Transferred', items[0]!.ref, addr(1), 100n),
        eventLog('TransferFailed', items[1]!.ref, addr(2), 200n),
        eventLog('Transferred', items[2]!.ref, addr(3), 300n, TOKEN),
      ],
    };
    expect(decodeBatchOutcomes(receipt, BATCHER.toUpperCase().replace('0X', '0x'))).toEqual([
      { ref: items[0]!.ref, to: addr(1), amountRaw: 100n, paid: true },
      { ref: items[1]!.ref, to: addr(2), amountRaw: 200n, paid: false },
    ]);
    expect(decodeBatchOutcomes({}, BATCHER)).toEqual([]);
  });

  it('settles each payment paid or failed by its event; missing without one, or with a different recipient or amount', () => {
    const receipt = {
      logs: [
        eventLog('TransferFailed', items[1]!.ref, addr(2), 200n),
        eventLog('Transferred', items[0]!.ref, addr(1), 100n),
        // Same ref, another amount: not what was sent.
        eventLog('Transferred', items[2]!.ref, addr(3), 301n),
      ],
    };
    expect(settleBatch(items, receipt, BATCHER).map((s) => s.outcome)).toEqual([
      'paid',
      'failed',
      'missing',
      'missing',
    ]);
    // Two events for one ref: nothing may be concluded.
    const doubled = {
      logs: [
        eventLog('Transferred', items[0]!.ref, addr(1), 100n),
        eventLog('TransferFailed', items[0]!.ref, addr(1), 100n),
      ],
    };
    expect(settleBatch(items.slice(0, 1), doubled, BATCHER)[0]?.outcome).toBe('missing');
  });
});

describe('allowanceCalls', () => {
  const approveOf = (data: Hex) => decodeFunctionData({ abi: usdtAbi, data }).args;

  it('asks nothing when the allowance covers the batch', () => {
    expect(allowanceCalls(BATCHER, 500n, 500n)).toEqual([]);
    expect(allowanceCalls(BATCHER, 501n, 500n, 10_000n)).toEqual([]);
  });

  it('approves the target from zero, and resets a non-zero allowance to 0 first (mainnet USDT)', () => {
    const fromZero = allowanceCalls(BATCHER, 0n, 500n, 10_000n);
    expect(fromZero.map((c) => c.value)).toEqual([10_000n]);
    expect(approveOf(fromZero[0]!.data)).toEqual([getAddress(BATCHER), 10_000n]);
    const fromSome = allowanceCalls(BATCHER, 499n, 500n);
    expect(fromSome.map((c) => c.value)).toEqual([0n, 500n]);
    expect(fromSome.map((c) => approveOf(c.data))).toEqual([
      [getAddress(BATCHER), 0n],
      [getAddress(BATCHER), 500n],
    ]);
  });

  it('refuses a target below the need', () => {
    expect(() => allowanceCalls(BATCHER, 0n, 500n, 499n)).toThrow('below what the batch needs');
    expect(batchTotal([{ amountRaw: 1n }, { amountRaw: 2n }])).toBe(3n);
  });
});
