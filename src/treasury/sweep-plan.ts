import { NATIVE_ADDRESS_LC } from '../config/chains.js';
import type { ChainConfig, SweepConfig } from '../config/types.js';

/**
 * The plan of one sweep round of one chain (issue 12 item 3; docs/TREASURY.md §4): which issued deposit
 * wallets are swept of what, the gas that takes, and what the gas wallet tops up first. Pure: the node and
 * database reads are in sweep-reads.ts, so every rule here is unit-tested with plain numbers. Amounts are
 * base units of their asset; gas prices are wei per unit of gas.
 */

/** The gas of a plain value transfer to an account without code (the top-up, the native sweep): exact. */
export const NATIVE_TRANSFER_GAS = 21_000n;

/** One issued address and its balances at the round's block. */
export interface SweepWallet {
  /** Lowercase. */
  address: string;
  index: number;
  userRef: string;
  native: bigint;
  /** Token balances by lowercase contract address (a token not in it: 0). */
  tokens: ReadonlyMap<string, bigint>;
}

/**
 * What one payout still in flight takes out of a wallet: its amount of its asset (a token contract, or
 * the chain's NATIVE_ADDRESS_LC for the native coin) and its gas limit (paid in the native coin).
 */
export interface InFlightSpend {
  /** Lowercase: the payout's sender, or its from_address while no sender is chosen yet. */
  wallet: string;
  assetLc: string;
  amount: bigint;
  gas: bigint;
}

export interface SweepFees {
  /** The fee now: the base fee plus the tip (EIP-1559) or the gas price; compared with `maxFeeGwei`. */
  currentPerGas: bigint;
  /** The most a sweep transaction will pay per gas (its maxFeePerGas): what a node requires it to hold. */
  maxFeePerGas: bigint;
}

export interface SweepRoundInput {
  chain: Pick<ChainConfig, 'name' | 'tokens' | 'native' | 'collectionAddressLc'>;
  sweep: SweepConfig;
  /** The block every balance was read at. */
  block: bigint;
  fees: SweepFees;
  wallets: readonly SweepWallet[];
  /** The chain's payouts in flight from the wallets and from the gas wallet. */
  inFlight: readonly InFlightSpend[];
  /** The gas limit of a token sweep, by `gasKey(wallet, token)`, estimated (with the payout margin). */
  gasLimits: ReadonlyMap<string, bigint>;
  /** The gas limit of a token sweep whose estimate is missing (the node refused it): a bound. */
  gasBound: bigint;
  gasWallet: { address: string; native: bigint };
}

export interface TokenSweep {
  symbol: string;
  tokenLc: string;
  decimals: number;
  /** The wallet's balance less what payouts in flight from it still take. */
  spare: bigint;
  /** What the sweep moves to the collection wallet: `spare` less `keepDust`. */
  amount: bigint;
  gasLimit: bigint;
  /** False when `gasLimit` is the bound, not the node's estimate. */
  estimated: boolean;
}

export interface WalletSweep {
  address: string;
  index: number;
  userRef: string;
  tokens: TokenSweep[];
  /** The most the token sweeps cost: their gas limits at `maxFeePerGas`. */
  gasCost: bigint;
  /** The wallet's native balance less what payouts in flight from it take (never below 0). */
  nativeSpare: bigint;
  /** What the gas wallet sends first: what the sweeps' gas needs beyond `nativeSpare`, else 0. */
  topUp: bigint;
  /**
   * The native coin left after the token sweeps, their dust and the native sweep's own fee, at their most
   * (the gas actually used is less, so the sweeper reads the balance again before sending it).
   */
  nativeSurplus: bigint;
  /** The native coin swept: `nativeSurplus` when the native coin has a `minAmount` the wallet reaches, else 0. */
  nativeSweep: bigint;
}

export interface SweepPlan {
  chain: string;
  block: bigint;
  fees: SweepFees;
  enabled: boolean;
  /** Why the round is skipped (fees above the cap); the plan then sweeps nothing. */
  skipped?: string;
  /** The wallets swept, by HD index. */
  wallets: WalletSweep[];
  /** What reaches the collection wallet, per symbol (tokens and the native coin). */
  totals: Record<string, bigint>;
  /** What every issued wallet holds at the block, per symbol (tokens and the native coin), swept or not. */
  held: Record<string, bigint>;
  /** The most the round's transactions cost in gas: token sweeps, native sweeps and top-ups. */
  gasCost: bigint;
  topUpTotal: bigint;
  topUpCount: number;
  gasWallet: {
    address: string;
    balance: bigint;
    /** Its native balance less its own payouts in flight. */
    spare: bigint;
    /** The top-ups and their own fees. */
    needed: bigint;
    canFund: boolean;
  };
}

export function gasKey(wallet: string, tokenLc: string): string {
  return `${wallet}:${tokenLc}`;
}

/**
 * Each wallet's balances less what its payouts in flight still take: a token payout its amount of the
 * token, every payout its gas at `pricePerGas` (for the native coin, also its value). May be negative.
 */
export function spareFunds(
  wallets: readonly Pick<SweepWallet, 'address' | 'native' | 'tokens'>[],
  inFlight: readonly InFlightSpend[],
  pricePerGas: bigint,
): Map<string, { native: bigint; tokens: Map<string, bigint> }> {
  const out = new Map(wallets.map((w) => [w.address, { native: w.native, tokens: new Map(w.tokens) }]));
  for (const p of inFlight) {
    const funds = out.get(p.wallet);
    if (!funds) continue;
    funds.native -= p.gas * pricePerGas;
    if (p.assetLc === NATIVE_ADDRESS_LC) funds.native -= p.amount;
    else funds.tokens.set(p.assetLc, (funds.tokens.get(p.assetLc) ?? 0n) - p.amount);
  }
  return out;
}

/** The token sweeps one wallet's spare balances call for: each token whose spare amount reaches its `minAmount`. */
export function tokenSweepsOf(
  input: Pick<SweepRoundInput, 'chain' | 'sweep' | 'gasLimits' | 'gasBound'>,
  wallet: string,
  spare: ReadonlyMap<string, bigint>,
): TokenSweep[] {
  const out: TokenSweep[] = [];
  for (const token of input.chain.tokens) {
    const min = input.sweep.minAmountRaw[token.symbol];
    const available = spare.get(token.addressLc) ?? 0n;
    if (min === undefined || available < min) continue;
    const amount = available - (input.sweep.keepDustRaw[token.symbol] ?? 0n);
    // The config keeps dust below the threshold, so this holds; a zero transfer would be a wasted fee.
    if (amount <= 0n) continue;
    const estimate = input.gasLimits.get(gasKey(wallet, token.addressLc));
    out.push({
      symbol: token.symbol,
      tokenLc: token.addressLc,
      decimals: token.decimals,
      spare: available,
      amount,
      gasLimit: estimate ?? input.gasBound,
      estimated: estimate !== undefined,
    });
  }
  return out;
}

/**
 * The round: nothing when the fee now is above `maxFeeGwei`; else, per issued wallet, the token sweeps
 * (spare balance at or above `minAmount`, less `keepDust`), the top-up (only what their gas needs beyond
 * the wallet's own spare native coin), the native surplus after, and whether the gas wallet can pay it all.
 */
export function planSweep(input: SweepRoundInput): SweepPlan {
  const { chain, sweep, fees } = input;
  const price = fees.maxFeePerGas;
  const nativeTxCost = NATIVE_TRANSFER_GAS * price;
  const plan: SweepPlan = {
    chain: chain.name,
    block: input.block,
    fees,
    enabled: sweep.enabled,
    wallets: [],
    totals: {},
    held: heldBy(input),
    gasCost: 0n,
    topUpTotal: 0n,
    topUpCount: 0,
    gasWallet: {
      address: input.gasWallet.address,
      balance: input.gasWallet.native,
      spare: 0n,
      needed: 0n,
      canFund: true,
    },
  };
  const gasSpare =
    spareFunds([{ ...input.gasWallet, tokens: new Map() }], input.inFlight, price).get(
      input.gasWallet.address,
    )?.native ?? 0n;
  plan.gasWallet.spare = gasSpare;
  if (fees.currentPerGas > sweep.maxFeePerGasWei) {
    plan.skipped = `the fee now, ${gwei(fees.currentPerGas)} gwei, is above maxFeeGwei ${gwei(sweep.maxFeePerGasWei)}: round skipped`;
    return plan;
  }
  const spare = spareFunds(input.wallets, input.inFlight, price);
  const nativeMin = sweep.minAmountRaw[chain.native.symbol];
  const nativeDust = sweep.keepDustRaw[chain.native.symbol] ?? 0n;
  const add = (symbol: string, amount: bigint) => {
    plan.totals[symbol] = (plan.totals[symbol] ?? 0n) + amount;
  };
  for (const wallet of [...input.wallets].sort((a, b) => a.index - b.index)) {
    const funds = spare.get(wallet.address);
    if (!funds) continue;
    const tokens = tokenSweepsOf(input, wallet.address, funds.tokens);
    const gasCost = tokens.reduce((sum, t) => sum + t.gasLimit * price, 0n);
    const nativeSpare = funds.native > 0n ? funds.native : 0n;
    const topUp = gasCost > nativeSpare ? gasCost - nativeSpare : 0n;
    const left = nativeSpare + topUp - gasCost - nativeDust - nativeTxCost;
    const nativeSurplus = left > 0n ? left : 0n;
    const nativeSweep = nativeMin !== undefined && nativeSpare >= nativeMin ? nativeSurplus : 0n;
    if (tokens.length === 0 && nativeSweep === 0n) continue;
    plan.wallets.push({
      address: wallet.address,
      index: wallet.index,
      userRef: wallet.userRef,
      tokens,
      gasCost,
      nativeSpare,
      topUp,
      nativeSurplus,
      nativeSweep,
    });
    for (const t of tokens) add(t.symbol, t.amount);
    if (nativeSweep > 0n) add(chain.native.symbol, nativeSweep);
    plan.gasCost += gasCost + (nativeSweep > 0n ? nativeTxCost : 0n) + (topUp > 0n ? nativeTxCost : 0n);
    if (topUp > 0n) {
      plan.topUpTotal += topUp;
      plan.topUpCount += 1;
    }
  }
  plan.gasWallet.needed = plan.topUpTotal + BigInt(plan.topUpCount) * nativeTxCost;
  plan.gasWallet.canFund = gasSpare >= plan.gasWallet.needed;
  return plan;
}

/** The sum of every wallet's balance of each asset. */
function heldBy(input: Pick<SweepRoundInput, 'chain' | 'wallets'>): Record<string, bigint> {
  const held: Record<string, bigint> = { [input.chain.native.symbol]: 0n };
  for (const t of input.chain.tokens) held[t.symbol] = 0n;
  for (const w of input.wallets) {
    held[input.chain.native.symbol]! += w.native;
    for (const t of input.chain.tokens) held[t.symbol]! += w.tokens.get(t.addressLc) ?? 0n;
  }
  return held;
}

/** Wei per gas as gwei, exact ("30", "1.5"). */
export function gwei(wei: bigint): string {
  const whole = wei / 1_000_000_000n;
  const frac = (wei % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : `${whole}`;
}
