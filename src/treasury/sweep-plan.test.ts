import { describe, expect, it } from 'vitest';
import { NATIVE_ADDRESS_LC } from '../config/chains.js';
import type { SweepConfig } from '../config/types.js';
import { gasKey, gwei, planSweep, type SweepRoundInput, type SweepWallet } from './sweep-plan.js';

const USDT = '0x1111111111111111111111111111111111111111';
const DAI = '0x2222222222222222222222222222222222222222';
const COLLECTION = '0xcccccccccccccccccccccccccccccccccccccccc';
const GAS_WALLET = '0x9999999999999999999999999999999999999999';
const A = '0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const B = '0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const GWEI = 1_000_000_000n;
const ETHER = 10n ** 18n;

const SWEEP: SweepConfig = {
  enabled: true,
  intervalSeconds: 600,
  minAmountRaw: { USDT: 50_000_000n },
  maxFeePerGasWei: 30n * GWEI,
  keepDustRaw: { USDT: 1n },
  gasWalletLc: GAS_WALLET,
};

function wallet(address: string, index: number, usdt: bigint, native = 0n, extra: [string, bigint][] = []) {
  return { address, index, userRef: `u${index}`, native, tokens: new Map([[USDT, usdt], ...extra]) };
}

function input(over: Partial<SweepRoundInput> = {}, wallets: SweepWallet[] = []): SweepRoundInput {
  return {
    chain: {
      name: 'ETH',
      native: { symbol: 'ETH', decimals: 18 },
      tokens: [
        { symbol: 'USDT', addressLc: USDT, decimals: 6 },
        { symbol: 'DAI', addressLc: DAI, decimals: 18 },
      ],
      collectionAddressLc: COLLECTION,
    },
    sweep: SWEEP,
    block: 100n,
    fees: { currentPerGas: 10n * GWEI, maxFeePerGas: 20n * GWEI },
    wallets,
    inFlight: [],
    gasLimits: new Map(),
    gasBound: 100_000n,
    gasWallet: { address: GAS_WALLET, native: ETHER },
    ...over,
  };
}

describe('planSweep', () => {
  it('sweeps exactly the wallets at or above the threshold, leaving the dust, by index', () => {
    const plan = planSweep(
      input({ gasLimits: new Map([[gasKey(A, USDT), 60_000n]]) }, [
        wallet(B, 2, 50_000_000n),
        wallet(A, 1, 123_456_789n),
        wallet('0xdddddddddddddddddddddddddddddddddddddddd', 3, 49_999_999n),
      ]),
    );
    expect(plan.skipped).toBeUndefined();
    expect(plan.wallets.map((w) => [w.address, w.tokens.map((t) => [t.symbol, t.amount])])).toEqual([
      [A, [['USDT', 123_456_788n]]],
      [B, [['USDT', 49_999_999n]]],
    ]);
    expect(plan.totals).toEqual({ USDT: 173_456_787n });
    const [a, b] = plan.wallets;
    // The estimate where there is one, else the bound.
    expect(a?.tokens[0]).toMatchObject({ gasLimit: 60_000n, estimated: true });
    expect(b?.tokens[0]).toMatchObject({ gasLimit: 100_000n, estimated: false });
    expect(a?.gasCost).toBe(60_000n * 20n * GWEI);
  });

  it('tops up only what the sweep’s gas needs beyond the wallet’s own native coin', () => {
    const gasCost = 100_000n * 20n * GWEI;
    const plan = planSweep(
      input({}, [wallet(A, 1, 60_000_000n, 0n), wallet(B, 2, 60_000_000n, gasCost / 4n)]),
    );
    expect(plan.wallets.map((w) => w.topUp)).toEqual([gasCost, gasCost - gasCost / 4n]);
    expect(plan.topUpTotal).toBe(2n * gasCost - gasCost / 4n);
    expect(plan.topUpCount).toBe(2);
    // Each top-up is a plain transfer the gas wallet pays for too.
    expect(plan.gasWallet.needed).toBe(plan.topUpTotal + 2n * 21_000n * 20n * GWEI);
    expect(plan.gasWallet.canFund).toBe(true);
    // A wallet that holds enough gets none.
    const rich = planSweep(input({}, [wallet(A, 1, 60_000_000n, gasCost * 3n)]));
    expect(rich.wallets[0]?.topUp).toBe(0n);
    expect(rich.topUpCount).toBe(0);
    expect(rich.wallets[0]?.nativeSurplus).toBe(gasCost * 2n - 21_000n * 20n * GWEI);
    // No native minAmount: the surplus is shown, not swept.
    expect(rich.wallets[0]?.nativeSweep).toBe(0n);
  });

  it('never counts what payouts in flight from the wallet still take', () => {
    const wallets = [wallet(A, 1, 80_000_000n, ETHER), wallet(B, 2, 80_000_000n, 0n)];
    const inFlight = [
      { wallet: A, assetLc: USDT, amount: 30_000_000n, gas: 50_000n },
      // B's payout takes its native coin: its gas must come from the gas wallet again.
      { wallet: B, assetLc: NATIVE_ADDRESS_LC, amount: 0n, gas: 0n },
      { wallet: B, assetLc: USDT, amount: 30_000_001n, gas: 0n },
      // Another wallet's payout changes nothing here.
      { wallet: COLLECTION, assetLc: USDT, amount: 80_000_000n, gas: 50_000n },
    ];
    const plan = planSweep(input({ inFlight }, wallets));
    expect(plan.wallets.map((w) => [w.address, w.tokens[0]?.spare, w.tokens[0]?.amount])).toEqual([
      [A, 50_000_000n, 49_999_999n],
    ]);
    expect(plan.wallets[0]?.nativeSpare).toBe(ETHER - 50_000n * 20n * GWEI);
    // The gas wallet's own payouts in flight count against what it can fund.
    const busy = planSweep(
      input(
        {
          gasWallet: { address: GAS_WALLET, native: 10n ** 15n },
          inFlight: [{ wallet: GAS_WALLET, assetLc: NATIVE_ADDRESS_LC, amount: 10n ** 15n, gas: 21_000n }],
        },
        [wallet(A, 1, 60_000_000n)],
      ),
    );
    expect(busy.gasWallet.spare).toBe(-21_000n * 20n * GWEI);
    expect(busy.gasWallet.canFund).toBe(false);
  });

  it('skips the whole round while the fee now is above maxFeeGwei, saying so', () => {
    const wallets = [wallet(A, 1, 60_000_000n)];
    const over = planSweep(
      input({ fees: { currentPerGas: 30n * GWEI + 1n, maxFeePerGas: 30n * GWEI } }, wallets),
    );
    expect(over.skipped).toBe('the fee now, 30.000000001 gwei, is above maxFeeGwei 30: round skipped');
    expect(over.wallets).toEqual([]);
    expect(over.totals).toEqual({});
    const at = planSweep(input({ fees: { currentPerGas: 30n * GWEI, maxFeePerGas: 30n * GWEI } }, wallets));
    expect(at.skipped).toBeUndefined();
    expect(at.wallets).toHaveLength(1);
  });

  it('sweeps the native coin when it has a threshold, after the gas of the token sweeps and its own', () => {
    const sweep = {
      ...SWEEP,
      minAmountRaw: { ...SWEEP.minAmountRaw, ETH: ETHER / 10n },
      keepDustRaw: { ...SWEEP.keepDustRaw, ETH: 1000n },
    };
    const plan = planSweep(
      input({ sweep }, [wallet(A, 1, 60_000_000n, ETHER), wallet(B, 2, 0n, ETHER / 10n - 1n)]),
    );
    expect(plan.wallets).toHaveLength(1);
    const [a] = plan.wallets;
    const price = 20n * GWEI;
    expect(a?.nativeSweep).toBe(ETHER - 100_000n * price - 1000n - 21_000n * price);
    expect(plan.totals).toEqual({ USDT: 59_999_999n, ETH: a?.nativeSweep });
    expect(plan.gasCost).toBe(100_000n * price + 21_000n * price);
  });

  it('plans each token with a threshold, and only those', () => {
    const sweep = { ...SWEEP, minAmountRaw: { ...SWEEP.minAmountRaw, DAI: ETHER } };
    const plan = planSweep(input({ sweep }, [wallet(A, 1, 50_000_000n, 0n, [[DAI, ETHER]])]));
    expect(plan.wallets[0]?.tokens.map((t) => [t.symbol, t.amount])).toEqual([
      ['USDT', 49_999_999n],
      ['DAI', ETHER],
    ]);
    expect(plan.wallets[0]?.topUp).toBe(200_000n * 20n * GWEI);
    expect(planSweep(input({}, [wallet(A, 1, 0n, 0n, [[DAI, ETHER]])])).wallets).toEqual([]);
  });
});

describe('gwei', () => {
  it('prints wei per gas as exact gwei', () => {
    expect([gwei(30n * GWEI), gwei(1_500_000_000n), gwei(1n), gwei(0n)]).toEqual([
      '30',
      '1.5',
      '0.000000001',
      '0',
    ]);
  });
});
