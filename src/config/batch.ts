import { toAddressLc } from '../internal/address.js';
import { type Checker, field, given, type Json } from './check.js';
import type { BatchConfig } from './types.js';

/**
 * A chain's `batch` (PROTOCOL §2.13): withdrawals paid by the collection wallet gathered into one
 * transaction to the project's batcher contract (contracts/Batcher.sol) at `address`. A new section, so
 * read strictly: unknown fields are reported.
 *
 *   "batch": { "enabled": true, "maxSize": 100, "maxWaitMs": 2000, "address": "0x…" }
 */

const BATCH_FIELDS = ['enabled', 'maxSize', 'maxWaitMs', 'address'] as const;

export const BATCH_DEFAULTS = { enabled: true, maxSize: 100, maxWaitMs: 2000 } as const;

/**
 * The most payments in one batch: at about 33,000 gas a payment (measured on TestUSDT, a new recipient
 * each), 500 take some 16.5 M gas, half of a 30 M block, so a batch still fits in one.
 */
export const BATCH_MAX_SIZE = 500;
/** The longest a payment may wait for others to join its batch: a minute. */
export const BATCH_MAX_WAIT_MS = 60_000;

/**
 * `batch` of the chain at `path`. Absent or null: resolves null (every payment its own transaction).
 * Resolves undefined (problems recorded) when any part is invalid.
 */
export function parseBatch(
  c: Checker,
  path: string,
  value: unknown,
  chain: { collectionAddressLc: `0x${string}` | undefined },
): BatchConfig | null | undefined {
  if (value === undefined || value === null) return null;
  const at = `${path}.batch`;
  const obj: Json | undefined = c.object(at, value);
  if (!obj) return undefined;
  let ok = true;
  for (const key of Object.keys(obj)) {
    if ((BATCH_FIELDS as readonly string[]).includes(key)) continue;
    c.problem(`${at}.${key}`, obj[key], `one of the fields ${BATCH_FIELDS.join(', ')}`);
    ok = false;
  }
  let enabled: boolean = BATCH_DEFAULTS.enabled;
  if (given(obj, 'enabled')) {
    const raw = field(obj, 'enabled');
    if (typeof raw === 'boolean') enabled = raw;
    else ok = c.problem(`${at}.enabled`, raw, 'true or false') ?? false;
  }
  const maxSize = given(obj, 'maxSize')
    ? c.integer(
        `${at}.maxSize`,
        field(obj, 'maxSize'),
        2,
        BATCH_MAX_SIZE,
        `a whole number of payments from 2 to ${BATCH_MAX_SIZE}`,
      )
    : BATCH_DEFAULTS.maxSize;
  const maxWaitMs = given(obj, 'maxWaitMs')
    ? c.integer(
        `${at}.maxWaitMs`,
        field(obj, 'maxWaitMs'),
        0,
        BATCH_MAX_WAIT_MS,
        `a whole number of milliseconds from 0 to ${BATCH_MAX_WAIT_MS}`,
      )
    : BATCH_DEFAULTS.maxWaitMs;
  let addressLc: `0x${string}` | undefined;
  if (given(obj, 'address')) {
    const raw = field(obj, 'address');
    addressLc = toAddressLc(raw) ?? c.problem(`${at}.address`, raw, 'a 0x-prefixed 20-byte hex address');
    if (!addressLc) ok = false;
  } else if (enabled) {
    // Without its contract nothing could be batched: the section would silently do nothing.
    ok =
      c.problem(
        `${at}.address`,
        undefined,
        'the batcher contract (m2pool-payment contracts deploy-batcher prints it)',
      ) ?? false;
  }
  // The batcher draws from the collection wallet, its owner: batching needs one.
  if (enabled && !chain.collectionAddressLc) {
    c.problem(
      `${path}.collectionAddress`,
      undefined,
      'the collection wallet that pays the batches (batch is enabled)',
    );
    ok = false;
  }
  if (!ok || maxSize === undefined || maxWaitMs === undefined) return undefined;
  if (enabled) {
    if (!addressLc) return undefined;
    return { enabled, maxSize, maxWaitMs, addressLc };
  }
  return { enabled, maxSize, maxWaitMs, ...(addressLc ? { addressLc } : {}) };
}
