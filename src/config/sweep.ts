import { toAddressLc } from '../internal/address.js';
import { parseAmount } from '../money/amount.js';
import { type Checker, field, given, type Json } from './check.js';
import type { SweepConfig } from './types.js';

/**
 * A chain's `sweep` (PROTOCOL §2.12): when and what of the issued deposit wallets is moved to the
 * collection wallet. A new section, so read strictly: unknown fields and symbols are reported.
 *
 *   "sweep": { "enabled": true, "intervalSeconds": 600, "minAmount": { "USDT": "50" },
 *              "maxFeeGwei": 30, "keepDust": { "USDT": "0.000001" }, "gasWallet": "0x…" }
 */

const SWEEP_FIELDS = [
  'enabled',
  'intervalSeconds',
  'minAmount',
  'maxFeeGwei',
  'keepDust',
  'gasWallet',
] as const;

export const SWEEP_DEFAULTS = { enabled: true, intervalSeconds: 600 } as const;

/** What the section needs of an asset (token or native coin): its symbol and decimals. */
export interface SweepAsset {
  symbol: string;
  decimals: number;
}

/** What the section needs of its chain besides the assets. */
export interface SweepChain {
  /** The chain's own payout fee cap in gwei: the default of `maxFeeGwei`. */
  maxFeeGwei: number;
  collectionAddressLc: `0x${string}` | undefined;
}

/** An exact amount of the asset: a decimal string ("50", "0.000001") or a JSON number; `zero` allows "0". */
function parseSweepAmount(
  c: Checker,
  path: string,
  value: unknown,
  decimals: number,
  zero: boolean,
): bigint | undefined {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text === 'string') {
    if (/^0+(\.0+)?$/.test(text)) {
      if (zero) return 0n;
    } else {
      try {
        return parseAmount(text, decimals);
      } catch {
        // reported below
      }
    }
  }
  const example = zero ? '"0.000001"' : '"50"';
  return c.problem(
    path,
    value,
    `an amount such as ${example} (a decimal string, at most ${decimals} decimals${zero ? ', "0" allowed' : ', above 0'})`,
  );
}

/** `{ SYMBOL: amount }` over the chain's assets, keyed by the configured spelling of each symbol. */
function parseAmounts(
  c: Checker,
  path: string,
  value: unknown,
  assets: readonly SweepAsset[],
  zero: boolean,
): Record<string, bigint> | undefined {
  const obj = c.object(path, value);
  if (!obj) return undefined;
  const out: Record<string, bigint> = {};
  let ok = true;
  for (const [symbol, amount] of Object.entries(obj)) {
    const at = `${path}.${symbol}`;
    const asset = assets.find((a) => a.symbol.toLowerCase() === symbol.toLowerCase());
    if (!asset) {
      const known = assets.map((a) => a.symbol).join(', ');
      c.problem(at, symbol, `the symbol of one of the chain's assets (${known})`);
      ok = false;
      continue;
    }
    if (out[asset.symbol] !== undefined) {
      c.problem(at, symbol, `one amount for ${asset.symbol} (symbols match in any case)`);
      ok = false;
      continue;
    }
    const raw = parseSweepAmount(c, at, amount, asset.decimals, zero);
    if (raw === undefined) ok = false;
    else out[asset.symbol] = raw;
  }
  return ok ? out : undefined;
}

/**
 * `sweep` of the chain at `path`, whose assets (tokens, then native coin) are `assets`. Absent or null:
 * resolves null (no sweeping). Resolves undefined (problems recorded) when any part is invalid.
 */
export function parseSweep(
  c: Checker,
  path: string,
  value: unknown,
  assets: readonly SweepAsset[],
  chain: SweepChain,
): SweepConfig | null | undefined {
  if (value === undefined || value === null) return null;
  const at = `${path}.sweep`;
  const obj: Json | undefined = c.object(at, value);
  if (!obj) return undefined;
  let ok = true;
  for (const key of Object.keys(obj)) {
    if ((SWEEP_FIELDS as readonly string[]).includes(key)) continue;
    c.problem(`${at}.${key}`, obj[key], `one of the fields ${SWEEP_FIELDS.join(', ')}`);
    ok = false;
  }
  let enabled: boolean = SWEEP_DEFAULTS.enabled;
  if (given(obj, 'enabled')) {
    const raw = field(obj, 'enabled');
    if (typeof raw === 'boolean') enabled = raw;
    else ok = c.problem(`${at}.enabled`, raw, 'true or false') ?? false;
  }
  const intervalSeconds = given(obj, 'intervalSeconds')
    ? c.integer(
        `${at}.intervalSeconds`,
        field(obj, 'intervalSeconds'),
        10,
        86_400 * 7,
        'a whole number of seconds from 10 to 604800 (a week)',
      )
    : SWEEP_DEFAULTS.intervalSeconds;
  const maxFeeGwei = given(obj, 'maxFeeGwei')
    ? c.integer(`${at}.maxFeeGwei`, field(obj, 'maxFeeGwei'), 1, 1_000_000, 'a whole number of gwei from 1')
    : chain.maxFeeGwei;
  // Without minAmount nothing would ever be swept: a section that does nothing is a mistake.
  const minAmountRaw = given(obj, 'minAmount')
    ? parseAmounts(c, `${at}.minAmount`, field(obj, 'minAmount'), assets, false)
    : c.problem(`${at}.minAmount`, undefined, 'the threshold of each asset to sweep, e.g. { "USDT": "50" }');
  if (minAmountRaw && Object.keys(minAmountRaw).length === 0) {
    ok = c.problem(`${at}.minAmount`, {}, 'at least one asset, e.g. { "USDT": "50" }') ?? false;
  }
  const keepDustRaw = given(obj, 'keepDust')
    ? parseAmounts(c, `${at}.keepDust`, field(obj, 'keepDust'), assets, true)
    : {};
  // Dust at or above the threshold would make every sweep of that asset nothing.
  for (const [symbol, dust] of Object.entries(keepDustRaw ?? {})) {
    const min = minAmountRaw?.[symbol];
    if (min !== undefined && dust >= min) {
      c.problem(`${at}.keepDust.${symbol}`, dust.toString(), `less than minAmount.${symbol} (in base units)`);
      ok = false;
    }
  }
  // The collection wallet is where sweeps go, so a sweeping chain must have one.
  if (!chain.collectionAddressLc) {
    c.problem(
      `${path}.collectionAddress`,
      undefined,
      'the collection wallet the sweeps go to (sweep is set)',
    );
    ok = false;
  }
  let gasWalletLc = chain.collectionAddressLc;
  if (given(obj, 'gasWallet')) {
    const raw = field(obj, 'gasWallet');
    gasWalletLc = toAddressLc(raw) ?? c.problem(`${at}.gasWallet`, raw, 'a 0x-prefixed 20-byte hex address');
    if (!gasWalletLc) ok = false;
  }
  if (!ok || intervalSeconds === undefined || maxFeeGwei === undefined || !minAmountRaw || !keepDustRaw)
    return undefined;
  if (!gasWalletLc) return undefined;
  return {
    enabled,
    intervalSeconds,
    minAmountRaw,
    maxFeePerGasWei: BigInt(maxFeeGwei) * 1_000_000_000n,
    keepDustRaw,
    gasWalletLc,
  };
}
