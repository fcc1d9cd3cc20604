import { describe, expect, it } from 'vitest';
import { TRANSFER_TOPIC } from '../chain/transfers.js';
import { nativeTransferPays, type RawReceipt, type RawTransaction, receiptPays } from './chain.js';

const token = `0x${'aa'.repeat(20)}`;
const sender = `0x${'bb'.repeat(20)}`;
const to = `0x${'cc'.repeat(20)}`;
const topic = (address: string) => `0x${address.slice(2).padStart(64, '0')}` as `0x${string}`;
const receipt = (logs: RawReceipt['logs']): RawReceipt => ({
  transactionHash: `0x${'11'.repeat(32)}`,
  blockHash: `0x${'22'.repeat(32)}`,
  blockNumber: '0x1',
  status: '0x1',
  gasUsed: '0x1',
  logs,
});
const transferLog = (from: string, recipient: string, amount: bigint, address = token) => ({
  address: address as `0x${string}`,
  topics: [TRANSFER_TOPIC, topic(from), topic(recipient)],
  data: `0x${amount.toString(16).padStart(64, '0')}` as `0x${string}`,
});
const payout = { token, sender, to, amountRaw: 5_000_000n };

describe('receiptPays', () => {
  it("needs the token's Transfer of the amount from the sender to the recipient", () => {
    expect(receiptPays(receipt([transferLog(sender, to, 5_000_000n)]), payout)).toBe(true);
  });

  it('is false for a successful receipt without it: a transfer that returned false', () => {
    expect(receiptPays(receipt([]), payout)).toBe(false);
    expect(receiptPays(receipt(undefined), payout)).toBe(false);
  });

  it('is false for another amount, recipient, sender or token', () => {
    expect(receiptPays(receipt([transferLog(sender, to, 4_999_999n)]), payout)).toBe(false);
    expect(receiptPays(receipt([transferLog(sender, sender, 5_000_000n)]), payout)).toBe(false);
    expect(receiptPays(receipt([transferLog(to, to, 5_000_000n)]), payout)).toBe(false);
    expect(receiptPays(receipt([transferLog(sender, to, 5_000_000n, `0x${'dd'.repeat(20)}`)]), payout)).toBe(
      false,
    );
  });
});

describe('nativeTransferPays', () => {
  const tx = (fields: Partial<RawTransaction> = {}): RawTransaction => ({
    hash: `0x${'11'.repeat(32)}`,
    from: sender as `0x${string}`,
    to: to as `0x${string}`,
    value: '0x4c4b40',
    ...fields,
  });
  const native = { sender, to, amountRaw: 5_000_000n };

  it('needs a successful receipt of a transaction from the sender to the recipient carrying the amount', () => {
    expect(nativeTransferPays(receipt([]), tx(), native)).toBe(true);
    expect(nativeTransferPays({ ...receipt([]), status: '0x0' }, tx(), native)).toBe(false);
  });

  it('is false for another value, recipient, sender or transaction', () => {
    expect(nativeTransferPays(receipt([]), tx({ value: '0x4c4b3f' }), native)).toBe(false);
    expect(nativeTransferPays(receipt([]), tx({ to: sender as `0x${string}` }), native)).toBe(false);
    expect(nativeTransferPays(receipt([]), tx({ to: null }), native)).toBe(false);
    expect(nativeTransferPays(receipt([]), tx({ from: to as `0x${string}` }), native)).toBe(false);
    expect(nativeTransferPays(receipt([]), tx({ hash: `0x${'33'.repeat(32)}` }), native)).toBe(false);
  });

  it('takes addresses in any letter case', () => {
    expect(
      nativeTransferPays(
        receipt([]),
        tx({ to: to.toUpperCase().replace('0X', '0x') as `0x${string}` }),
        native,
      ),
    ).toBe(true);
  });
});
