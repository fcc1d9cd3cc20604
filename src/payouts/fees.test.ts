import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnvilInstance, startAnvil } from '../chain/anvil.js';
import { createPayoutClient } from '../chain/payout-client.js';
import { bumpFees, type Fees, feesWithin, maxGasPrice, suggestFees } from './fees.js';

const GWEI = 1_000_000_000n;

describe('feesWithin', () => {
  const suggested: Fees = {
    type: 'eip1559',
    maxFeePerGas: 21n * GWEI,
    maxPriorityFeePerGas: 1n * GWEI,
    baseFeePerGas: 10n * GWEI,
  };
  const gas = 60_000n;

  it('lowers the max fee to what the wallet holds while that still pays the base fee and the tip', () => {
    // Topped up at a 15 gwei price; the base fee rose so the suggestion is 21 gwei.
    const fitted = feesWithin(suggested, gas, gas * 15n * GWEI);
    expect(fitted).toMatchObject({ maxFeePerGas: 15n * GWEI, maxPriorityFeePerGas: 1n * GWEI });
    expect(feesWithin(suggested, gas, gas * 11n * GWEI)).toMatchObject({ maxFeePerGas: 11n * GWEI });
  });

  it('refuses when the wallet cannot pay the next block, and on a chain without a base fee', () => {
    expect(feesWithin(suggested, gas, gas * 11n * GWEI - 1n)).toBeUndefined();
    expect(feesWithin({ type: 'legacy', gasPrice: 21n * GWEI }, gas, gas * 15n * GWEI)).toBeUndefined();
    const { baseFeePerGas: _, ...unknownBase } = suggested;
    expect(feesWithin(unknownBase, gas, gas * 15n * GWEI)).toBeUndefined();
  });
});

describe('bumpFees', () => {
  const old: Fees = { type: 'eip1559', maxFeePerGas: 10n * GWEI, maxPriorityFeePerGas: 1n * GWEI };

  it('raises both fields by at least 10%', () => {
    const quiet: Fees = { type: 'eip1559', maxFeePerGas: 1n * GWEI, maxPriorityFeePerGas: 1n };
    const bumped = bumpFees(old, quiet, 100n * GWEI);
    expect(bumped).toEqual({
      type: 'eip1559',
      maxFeePerGas: 11n * GWEI + 1n,
      maxPriorityFeePerGas: 1_100_000_001n,
    });
  });

  it('follows the market when it rose more than 10%', () => {
    const busy: Fees = { type: 'eip1559', maxFeePerGas: 40n * GWEI, maxPriorityFeePerGas: 3n * GWEI };
    expect(bumpFees(old, busy, 100n * GWEI)).toEqual(busy);
  });

  it('never goes above the cap, and gives up when the cap leaves no room for a valid bump', () => {
    const busy: Fees = { type: 'eip1559', maxFeePerGas: 40n * GWEI, maxPriorityFeePerGas: 3n * GWEI };
    const capped = bumpFees(old, busy, 20n * GWEI);
    expect(capped && maxGasPrice(capped)).toBe(20n * GWEI);
    expect(bumpFees(old, busy, 10n * GWEI)).toBeUndefined();
  });

  it('bumps a legacy gas price the same way', () => {
    const legacy: Fees = { type: 'legacy', gasPrice: 20n * GWEI };
    expect(bumpFees(legacy, { type: 'legacy', gasPrice: GWEI }, 100n * GWEI)).toEqual({
      type: 'legacy',
      gasPrice: 22n * GWEI + 1n,
    });
    expect(bumpFees(legacy, legacy, 21n * GWEI)).toBeUndefined();
  });
});

describe('suggestFees on a node', () => {
  let london: AnvilInstance;
  let berlin: AnvilInstance;
  beforeAll(async () => {
    [london, berlin] = await Promise.all([startAnvil(), startAnvil({ args: ['--hardfork', 'berlin'] })]);
  });
  afterAll(async () => {
    await Promise.all([london?.stop(), berlin?.stop()]);
  });

  it('uses EIP-1559 fees from the fee history, under the cap', async () => {
    const client = createPayoutClient(london.rpcUrl);
    const fees = await suggestFees(client, 500n * GWEI);
    expect(fees.type).toBe('eip1559');
    if (fees.type !== 'eip1559') return;
    const block = await client.getBlock();
    expect(fees.maxFeePerGas).toBeGreaterThanOrEqual(block.baseFeePerGas!);
    expect(fees.maxPriorityFeePerGas).toBeLessThanOrEqual(fees.maxFeePerGas);
    const capped = await suggestFees(client, 1n);
    expect(maxGasPrice(capped)).toBe(1n);
  });

  it('falls back to a legacy gas price on a chain without EIP-1559', async () => {
    const fees = await suggestFees(createPayoutClient(berlin.rpcUrl), 500n * GWEI);
    expect(fees.type).toBe('legacy');
    expect(maxGasPrice(fees)).toBeGreaterThan(0n);
  });
});
