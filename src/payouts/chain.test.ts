import { describe, expect, it } from 'vitest';
import { TRANSFER_TOPIC } from '../chain/transfers.js';
import { type RawReceipt, receiptPays } from './chain.js';

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
