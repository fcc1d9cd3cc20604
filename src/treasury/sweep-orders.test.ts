import { describe, expect, it } from 'vitest';
import { NATIVE_ADDRESS_LC } from '../config/chains.js';
import { type SweepOrderInput, sweepOrders, type WalletHistory } from './sweep-orders.js';
import type { SweepPlan, WalletSweep } from './sweep-plan.js';

const TOKEN = '0x00000000000000000000000000000000000000aa';
const GAS_WALLET = '0x00000000000000000000000000000000000000ee';
const COLLECTION = '0x00000000000000000000000000000000000000cc';
const PRICE = 2_000_000_000n;
const wallet = (n: number) => `0x${n.toString(16).padStart(40, '0')}`;

function walletSweep(n: number, over: Partial<WalletSweep> = {}): WalletSweep {
  return {
    address: wallet(n),
    index: n,
    userRef: `u${n}`,
    tokens: [
      {
        symbol: 'USDT',
        tokenLc: TOKEN,
        decimals: 6,
        spare: 100_000_000n,
        amount: 99_999_999n,
        gasLimit: 60_000n,
        estimated: true,
      },
    ],
    gasCost: 60_000n * PRICE,
    nativeSpare: 0n,
    topUp: 60_000n * PRICE,
    nativeSurplus: 0n,
    nativeSweep: 0n,
    ...over,
  };
}

function plan(wallets: WalletSweep[], over: Partial<SweepPlan> = {}): SweepPlan {
  return {
    chain: 'ETH',
    block: 100n,
    fees: { currentPerGas: PRICE / 2n, maxFeePerGas: PRICE },
    enabled: true,
    wallets,
    totals: {},
    held: {},
    gasCost: 0n,
    topUpTotal: 0n,
    topUpCount: 0,
    gasWallet: { address: GAS_WALLET, balance: 10n ** 18n, spare: 10n ** 18n, needed: 0n, canFund: true },
    ...over,
  };
}

function input(p: SweepPlan, histories: [string, WalletHistory][] = []): SweepOrderInput {
  return {
    plan: p,
    chain: { name: 'ETH', native: { symbol: 'ETH', decimals: 18 } },
    collectionLc: COLLECTION,
    gasMarginPct: 20,
    histories: new Map(histories),
    now: 1_000,
  };
}

describe('sweepOrders', () => {
  it('tops a wallet without gas up first, with only what its sweep needs, and stores no sweep yet', () => {
    const orders = sweepOrders(input(plan([walletSweep(1)])));
    expect(orders.topUps).toBe(1);
    expect(orders.sweeps).toBe(0);
    const [topUp] = orders.wallets[0]!.payouts;
    expect(topUp).toMatchObject({
      queue_id: `gas_topup:ETH:100:${wallet(1)}`,
      kind: 'gas_topup',
      from_address: GAS_WALLET,
      to_address: wallet(1),
      token_address: NATIVE_ADDRESS_LC,
      amount_raw: (60_000n * PRICE).toString(),
      gas_limit: '21000',
      state: 'accepted',
    });
  });

  it('sweeps a wallet that holds its gas: the amount less dust, to the collection wallet, at the planned limit', () => {
    const orders = sweepOrders(input(plan([walletSweep(2, { nativeSpare: 10n ** 17n, topUp: 0n })])));
    expect(orders).toMatchObject({ topUps: 0, sweeps: 1 });
    expect(orders.wallets[0]!.payouts[0]).toMatchObject({
      queue_id: `sweep:ETH:100:${wallet(2)}:USDT`,
      kind: 'sweep',
      from_address: wallet(2),
      to_address: COLLECTION,
      token_address: TOKEN,
      amount_raw: '99999999',
      amount_text: '99.999999',
      gas_limit: '60000',
    });
  });

  it('sweeps, without a second top-up, a wallet whose last treasury transfer is a confirmed top-up', () => {
    const funded: WalletHistory = {
      busy: false,
      latest: { kind: 'gas_topup', state: 'confirmed', createdAt: 1 },
    };
    const orders = sweepOrders(input(plan([walletSweep(3)]), [[wallet(3), funded]]));
    expect(orders).toMatchObject({ topUps: 0, sweeps: 1 });
  });

  it('tops up again after a sweep that failed', () => {
    const failed: WalletHistory = { busy: false, latest: { kind: 'sweep', state: 'failed', createdAt: 2 } };
    expect(sweepOrders(input(plan([walletSweep(4)]), [[wallet(4), failed]]))).toMatchObject({
      topUps: 1,
      sweeps: 0,
    });
  });

  it('leaves a wallet alone while a treasury transfer of it is in flight', () => {
    const busy: WalletHistory = { busy: true, latest: { kind: 'gas_topup', state: 'sent', createdAt: 1 } };
    const orders = sweepOrders(input(plan([walletSweep(5)]), [[wallet(5), busy]]));
    expect(orders.wallets).toEqual([]);
    expect(orders.waiting).toEqual([{ address: wallet(5), why: 'busy' }]);
  });

  it('stores top-ups in HD order while the gas wallet covers them and their fees; the others wait', () => {
    const each = 60_000n * PRICE + 21_000n * PRICE;
    const p = plan([walletSweep(6), walletSweep(7), walletSweep(8)], {
      gasWallet: {
        address: GAS_WALLET,
        balance: 2n * each,
        spare: 2n * each,
        needed: 3n * each,
        canFund: false,
      },
    });
    const orders = sweepOrders(input(p));
    expect(orders.wallets.map((w) => w.address)).toEqual([wallet(6), wallet(7)]);
    expect(orders.waiting).toEqual([{ address: wallet(8), why: 'gas_wallet_short' }]);
  });

  it('sweeps with the limit its coin pays for a wallet short of the margin only, with no top-up', () => {
    // The estimate is 50,000 (60,000 less its 20%); the wallet holds 55,000 gas at the price.
    const w = walletSweep(9, { nativeSpare: 55_000n * PRICE, topUp: 5_000n * PRICE });
    const orders = sweepOrders(input(plan([w])));
    expect(orders).toMatchObject({ topUps: 0, sweeps: 1 });
    expect(orders.wallets[0]!.payouts[0]!.gas_limit).toBe('55000');
    // Below the estimate itself: a top-up.
    const short = walletSweep(10, { nativeSpare: 49_999n * PRICE, topUp: 10_001n * PRICE });
    expect(sweepOrders(input(plan([short])))).toMatchObject({ topUps: 1, sweeps: 0 });
  });

  it('stores nothing when the round is skipped or sweeping is disabled', () => {
    expect(sweepOrders(input(plan([walletSweep(11)], { skipped: 'fees' }))).wallets).toEqual([]);
    expect(sweepOrders(input(plan([walletSweep(12)], { enabled: false }))).wallets).toEqual([]);
  });

  it('sweeps the native surplus of a wallet with no token left to sweep', () => {
    const w = walletSweep(13, {
      tokens: [],
      topUp: 0n,
      nativeSpare: 10n ** 18n,
      nativeSweep: 9n * 10n ** 17n,
    });
    expect(sweepOrders(input(plan([w]))).wallets[0]!.payouts[0]).toMatchObject({
      queue_id: `sweep:ETH:100:${wallet(13)}:ETH`,
      token_address: NATIVE_ADDRESS_LC,
      amount_raw: (9n * 10n ** 17n).toString(),
      gas_limit: '21000',
    });
  });
});
