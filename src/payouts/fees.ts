import type { PublicClient } from 'viem';

/** The fee fields of a transaction: EIP-1559, or a legacy gas price on chains without it. */
export type Fees =
  | {
      type: 'eip1559';
      maxFeePerGas: bigint;
      maxPriorityFeePerGas: bigint;
      /** The next block's base fee, where the fees were suggested from the node's fee history. */
      baseFeePerGas?: bigint;
    }
  | { type: 'legacy'; gasPrice: bigint };

const GWEI = 1_000_000_000n;
/** Floor for the tip: nodes refuse or starve transactions with none. */
const MIN_PRIORITY = GWEI / 10n;

/**
 * Fees from the node's fee history: the next block's base fee doubled (room for six full blocks of
 * rises) plus the median tip of recent blocks, never above `cap`. A chain whose blocks have no base
 * fee gets a legacy gas price.
 */
export async function suggestFees(client: PublicClient, cap: bigint): Promise<Fees> {
  const history = await client.getFeeHistory({ blockCount: 5, rewardPercentiles: [50] });
  const baseFee = history.baseFeePerGas.at(-1);
  if (baseFee === undefined || history.baseFeePerGas.every((b) => b === 0n)) {
    return { type: 'legacy', gasPrice: min(await client.getGasPrice(), cap) };
  }
  const tips = (history.reward ?? [])
    .map((r) => r[0] ?? 0n)
    .filter((t) => t > 0n)
    .sort(compare);
  const medianTip = tips.length ? tips[Math.floor(tips.length / 2)]! : GWEI;
  const priority = max(medianTip, MIN_PRIORITY);
  const maxFee = min(baseFee * 2n + priority, cap);
  return {
    type: 'eip1559',
    maxFeePerGas: maxFee,
    maxPriorityFeePerGas: min(priority, maxFee),
    baseFeePerGas: baseFee,
  };
}

/**
 * The fees a wallet holding `native` can pay for `gas`, when that is less than `fees` asks but still the
 * next block's base fee plus the tip: a sweep whose wallet was topped up for an earlier base fee is sent
 * with the headroom it has rather than refused (and topped up again, a transaction more). Undefined when
 * it holds less, or when the base fee is unknown (a legacy chain).
 */
export function feesWithin(fees: Fees, gas: bigint, native: bigint): Fees | undefined {
  if (fees.type !== 'eip1559' || fees.baseFeePerGas === undefined || gas <= 0n) return undefined;
  const affordable = native / gas;
  if (affordable < fees.baseFeePerGas + fees.maxPriorityFeePerGas) return undefined;
  return capFees(fees, affordable);
}

/**
 * Fees for a replacement: each field at least 10% (plus 1 wei) above the old one, which nodes require,
 * or today's suggestion if higher; capped. Undefined when the cap leaves no room for a valid bump.
 */
export function bumpFees(old: Fees, current: Fees, cap: bigint): Fees | undefined {
  const up = (v: bigint) => v + v / 10n + 1n;
  if (old.type === 'legacy') {
    const currentPrice = current.type === 'legacy' ? current.gasPrice : current.maxFeePerGas;
    const gasPrice = min(max(up(old.gasPrice), currentPrice), cap);
    return gasPrice >= up(old.gasPrice) ? { type: 'legacy', gasPrice } : undefined;
  }
  const cur =
    current.type === 'eip1559' ? current : { maxFeePerGas: current.gasPrice, maxPriorityFeePerGas: 0n };
  const maxFeePerGas = min(max(up(old.maxFeePerGas), cur.maxFeePerGas), cap);
  const maxPriorityFeePerGas = min(max(up(old.maxPriorityFeePerGas), cur.maxPriorityFeePerGas), maxFeePerGas);
  if (maxFeePerGas < up(old.maxFeePerGas) || maxPriorityFeePerGas < up(old.maxPriorityFeePerGas))
    return undefined;
  return { type: 'eip1559', maxFeePerGas, maxPriorityFeePerGas };
}

/**
 * The most a payout of `kind` may pay per gas on its chain: the chain's cap, and for a sweep also the
 * sweep's own `maxFeeGwei` (its round topped the wallet up for that price, no more).
 */
export function feeCapOf(
  chain: { maxFeePerGasWei: bigint; sweep?: { maxFeePerGasWei: bigint } | undefined },
  kind: string,
): bigint {
  const sweepCap = kind === 'sweep' ? chain.sweep?.maxFeePerGasWei : undefined;
  return sweepCap !== undefined && sweepCap < chain.maxFeePerGasWei ? sweepCap : chain.maxFeePerGasWei;
}

/** `fees` with no field above `cap` (a treasury sweep is signed under its round's cap). */
export function capFees(fees: Fees, cap: bigint): Fees {
  if (fees.type === 'legacy') return { type: 'legacy', gasPrice: min(fees.gasPrice, cap) };
  const maxFeePerGas = min(fees.maxFeePerGas, cap);
  return { ...fees, maxFeePerGas, maxPriorityFeePerGas: min(fees.maxPriorityFeePerGas, maxFeePerGas) };
}

/** The most a transaction with these fees can cost per unit of gas. */
export function maxGasPrice(fees: Fees): bigint {
  return fees.type === 'legacy' ? fees.gasPrice : fees.maxFeePerGas;
}

function min(a: bigint, b: bigint) {
  return a < b ? a : b;
}
function max(a: bigint, b: bigint) {
  return a > b ? a : b;
}
function compare(a: bigint, b: bigint) {
  return a < b ? -1 : a > b ? 1 : 0;
}
