import { parseAmount } from '../money/amount.js';
import { type Checker, field, given, type Json } from './check.js';
import type { AlertLevels, AlertsConfig } from './types.js';

/** The v2 README's 告警阈值, plus the thresholds v2 did not have. */
export function defaultAlertsConfig(): AlertsConfig {
  return {
    pending: { warning: 100, critical: 500 },
    queueUsagePct: { warning: 80, critical: 95 },
    failureRatePct: { warning: 5, critical: 10 },
    memoryPct: { warning: 80, critical: 95 },
    cpuPct: { warning: 70, critical: 90 },
    queueCapacity: 10_000,
    collectionGasFloorWei: 50_000_000_000_000_000n, // 0.05 ETH: a few hundred token transfers
    watcherLagBlocks: 10,
    payoutStuckMinutes: 30,
  };
}

const LEVEL_KEYS = [
  ['pending', 'pending', 'a whole number of transactions', Number.MAX_SAFE_INTEGER, true],
  ['queueUsagePct', 'queueUsage', 'a percentage from 0 to 100', 100, false],
  ['failureRatePct', 'failureRate', 'a percentage from 0 to 100', 100, false],
  ['memoryPct', 'memory', 'a percentage from 0 to 100', 100, false],
  ['cpuPct', 'cpu', 'a percentage from 0 to 1000', 1000, false],
] as const;

function parseLevels(
  c: Checker,
  path: string,
  value: unknown,
  fallback: AlertLevels,
  expected: string,
  max: number,
  integer: boolean,
): AlertLevels | undefined {
  if (value === undefined || value === null) return fallback;
  const obj = c.object(path, value);
  if (!obj) return undefined;
  const level = (key: 'warning' | 'critical') => {
    if (!given(obj, key)) return fallback[key];
    const v = field(obj, key);
    const ok = typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= max;
    if (ok && (!integer || Number.isInteger(v))) return v;
    return c.problem(`${path}.${key}`, v, expected);
  };
  const warning = level('warning');
  const critical = level('critical');
  if (warning === undefined || critical === undefined) return undefined;
  if (critical < warning)
    return c.problem(`${path}.critical`, critical, `a value not below warning (${warning})`);
  return { warning, critical };
}

/** "0.05" or 0.05 → wei; "0" turns the check off. */
function parseEth(c: Checker, path: string, value: unknown): bigint | undefined {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text === 'string') {
    if (/^0*(\.0*)?$/.test(text) && text !== '' && text !== '.') return 0n;
    try {
      return parseAmount(text, 18);
    } catch {
      // reported below
    }
  }
  return c.problem(path, value, 'an amount of ETH such as "0.05" (at most 18 decimals; "0" for off)');
}

/** config.json `alerts` → AlertsConfig; every key optional, absent means the default. */
export function parseAlerts(c: Checker, value: unknown): AlertsConfig | undefined {
  const defaults = defaultAlertsConfig();
  if (value === undefined || value === null) return defaults;
  const obj: Json | undefined = c.object('alerts', value);
  if (!obj) return undefined;
  const out: AlertsConfig = { ...defaults };
  let ok = true;
  for (const [name, key, expected, max, integer] of LEVEL_KEYS) {
    const levels = parseLevels(c, `alerts.${key}`, field(obj, key), defaults[name], expected, max, integer);
    if (levels) out[name] = levels;
    else ok = false;
  }
  if (given(obj, 'queueCapacity')) {
    const n = c.integer(
      'alerts.queueCapacity',
      field(obj, 'queueCapacity'),
      1,
      2_147_483_647,
      'a positive number of messages',
    );
    if (n === undefined) ok = false;
    else out.queueCapacity = n;
  }
  if (given(obj, 'collectionGasFloorEth')) {
    const wei = parseEth(c, 'alerts.collectionGasFloorEth', field(obj, 'collectionGasFloorEth'));
    if (wei === undefined) ok = false;
    else out.collectionGasFloorWei = wei;
  }
  if (given(obj, 'watcherLagBlocks')) {
    const n = c.integer(
      'alerts.watcherLagBlocks',
      field(obj, 'watcherLagBlocks'),
      1,
      1_000_000,
      'a positive number of blocks',
    );
    if (n === undefined) ok = false;
    else out.watcherLagBlocks = n;
  }
  if (given(obj, 'payoutStuckMinutes')) {
    const n = c.integer(
      'alerts.payoutStuckMinutes',
      field(obj, 'payoutStuckMinutes'),
      1,
      1_000_000,
      'a positive number of minutes',
    );
    if (n === undefined) ok = false;
    else out.payoutStuckMinutes = n;
  }
  return ok ? out : undefined;
}
