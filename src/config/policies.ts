import { toAddressLc } from '../internal/address.js';
import { parseAmount } from '../money/amount.js';
import { type Checker, field, given, type Json } from './check.js';
import type { AssetPolicy } from './types.js';

/**
 * A chain's `policies` (PROTOCOL §2.11): withdrawal rules per asset, keyed by the symbol of one of the
 * chain's tokens or of its native coin (in any letter case; stored under the configured spelling).
 * A new section, so read strictly: unknown fields and symbols are reported.
 *
 *   "policies": { "USDT": { "maxPerRequest": "1000", "dailyMaxPerFrom": "5000", "dailyMaxTotal": "50000",
 *                           "allowTo": ["0x…"], "approvalAbove": "2000" } }
 */

const POLICY_FIELDS = [
  'maxPerRequest',
  'dailyMaxPerFrom',
  'dailyMaxTotal',
  'allowTo',
  'approvalAbove',
] as const;

const AMOUNT_FIELDS = [
  ['maxPerRequest', 'maxPerRequestRaw'],
  ['dailyMaxPerFrom', 'dailyMaxPerFromRaw'],
  ['dailyMaxTotal', 'dailyMaxTotalRaw'],
  ['approvalAbove', 'approvalAboveRaw'],
] as const;

/** What a policy needs of an asset: its symbol and decimals (the amounts are in its units). */
export interface PolicyAsset {
  symbol: string;
  decimals: number;
}

/**
 * An amount of the asset: a decimal string ("1000.5", exact) or a JSON number (read as JSON.parse gives
 * it: write a string for more than 15 significant digits). "0" is allowed: a limit of nothing.
 */
function parseLimit(c: Checker, path: string, value: unknown, decimals: number): bigint | undefined {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text === 'string') {
    if (/^0+(\.0+)?$/.test(text)) return 0n;
    try {
      return parseAmount(text, decimals);
    } catch {
      // reported below
    }
  }
  return c.problem(
    path,
    value,
    `an amount such as "1000" (a decimal string, at most ${decimals} decimals, "0" allowed)`,
  );
}

function parseAllowTo(c: Checker, path: string, value: unknown): string[] | undefined {
  if (!Array.isArray(value) || value.length === 0) {
    return c.problem(path, value, 'a non-empty list of 0x addresses (leave allowTo out for any recipient)');
  }
  const out: string[] = [];
  let ok = true;
  for (const [i, item] of value.entries()) {
    const lc = toAddressLc(item);
    if (lc === undefined) {
      c.problem(`${path}[${i}]`, item, 'a 0x-prefixed 20-byte hex address');
      ok = false;
    } else if (!out.includes(lc)) out.push(lc);
  }
  return ok ? out : undefined;
}

function parsePolicy(c: Checker, path: string, value: unknown, asset: PolicyAsset): AssetPolicy | undefined {
  const obj = c.object(path, value);
  if (!obj) return undefined;
  let ok = true;
  for (const key of Object.keys(obj)) {
    if ((POLICY_FIELDS as readonly string[]).includes(key)) continue;
    c.problem(`${path}.${key}`, obj[key], `one of the fields ${POLICY_FIELDS.join(', ')}`);
    ok = false;
  }
  const policy: AssetPolicy = {};
  for (const [key, name] of AMOUNT_FIELDS) {
    if (!given(obj, key)) continue;
    const raw = parseLimit(c, `${path}.${key}`, field(obj, key), asset.decimals);
    if (raw === undefined) ok = false;
    else policy[name] = raw;
  }
  if (given(obj, 'allowTo')) {
    const list = parseAllowTo(c, `${path}.allowTo`, field(obj, 'allowTo'));
    if (list === undefined) ok = false;
    else policy.allowToLc = list;
  }
  return ok ? policy : undefined;
}

/**
 * `policies` of the chain at `path`, whose assets (tokens and native coin) are `assets`. Absent or
 * null: none. Resolves undefined (problems recorded) when any part is invalid.
 */
export function parsePolicies(
  c: Checker,
  path: string,
  value: unknown,
  assets: readonly PolicyAsset[],
): Record<string, AssetPolicy> | undefined {
  if (value === undefined || value === null) return {};
  const obj: Json | undefined = c.object(`${path}.policies`, value);
  if (!obj) return undefined;
  const out: Record<string, AssetPolicy> = {};
  let ok = true;
  for (const [symbol, spec] of Object.entries(obj)) {
    const at = `${path}.policies.${symbol}`;
    const asset = assets.find((a) => a.symbol.toLowerCase() === symbol.toLowerCase());
    if (!asset) {
      const known = assets.map((a) => a.symbol).join(', ');
      c.problem(at, symbol, `the symbol of one of the chain's assets (${known})`);
      ok = false;
      continue;
    }
    if (out[asset.symbol]) {
      c.problem(at, symbol, `one policy for ${asset.symbol} (symbols match in any case)`);
      ok = false;
      continue;
    }
    const policy = parsePolicy(c, at, spec, asset);
    if (policy === undefined) ok = false;
    else out[asset.symbol] = policy;
  }
  return ok ? out : undefined;
}
