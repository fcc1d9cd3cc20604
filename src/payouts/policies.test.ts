import { describe, expect, it } from 'vitest';
import type { AssetPolicy } from '../config/types.js';
import { COUNTED_STATES, decidePolicy, needsDailySums, type PolicyRequest } from './policies.js';

const USDT = 1_000_000n;
const TO = `0x${'a'.repeat(40)}`;
const OTHER = `0x${'b'.repeat(40)}`;
const FROM = `0x${'c'.repeat(40)}`;

const request = (amountRaw: bigint, toLc = TO): PolicyRequest => ({
  chainName: 'ETH',
  symbol: 'USDT',
  decimals: 6,
  amountRaw,
  fromLc: FROM,
  toLc,
});
const none = { totalRaw: 0n, fromRaw: 0n };

describe('decidePolicy', () => {
  it('accepts anything without a policy, and needs no sums then', () => {
    expect(decidePolicy(undefined, request(10n ** 30n))).toEqual({ kind: 'accept' });
    expect(needsDailySums(undefined)).toBe(false);
    expect(needsDailySums({ maxPerRequestRaw: 1n })).toBe(false);
    expect(needsDailySums({ dailyMaxTotalRaw: 1n })).toBe(true);
  });

  it('refuses above maxPerRequest and passes exactly the limit, naming the rule and the limit', () => {
    const policy: AssetPolicy = { maxPerRequestRaw: 1000n * USDT };
    expect(decidePolicy(policy, request(1000n * USDT))).toEqual({ kind: 'accept' });
    const d = decidePolicy(policy, request(1000n * USDT + 1n));
    expect(d).toMatchObject({ kind: 'refuse', rule: 'maxPerRequest' });
    expect(d.kind === 'refuse' && d.message).toBe(
      'policy maxPerRequest: 1000.000001 USDT is above the limit of 1000 USDT per request on ETH',
    );
  });

  it('refuses a recipient not on allowTo', () => {
    const policy: AssetPolicy = { allowToLc: [TO] };
    expect(decidePolicy(policy, request(1n, TO))).toEqual({ kind: 'accept' });
    expect(decidePolicy(policy, request(1n, OTHER))).toMatchObject({
      kind: 'refuse',
      rule: 'allowTo',
      message: expect.stringContaining(OTHER),
    });
  });

  it('counts this request with the last 24 hours against the daily limits', () => {
    const policy: AssetPolicy = { dailyMaxPerFromRaw: 50n * USDT, dailyMaxTotalRaw: 80n * USDT };
    expect(() => decidePolicy(policy, request(1n))).toThrow(/sums/);
    expect(decidePolicy(policy, request(10n * USDT), { totalRaw: 70n * USDT, fromRaw: 40n * USDT })).toEqual({
      kind: 'accept',
    });
    const perFrom = decidePolicy(policy, request(11n * USDT), { totalRaw: 0n, fromRaw: 40n * USDT });
    expect(perFrom).toMatchObject({ kind: 'refuse', rule: 'dailyMaxPerFrom' });
    expect(perFrom.kind === 'refuse' && perFrom.message).toContain(
      'above the limit of 50 USDT per from_address',
    );
    const total = decidePolicy(policy, request(11n * USDT), { totalRaw: 70n * USDT, fromRaw: 0n });
    expect(total).toMatchObject({ kind: 'refuse', rule: 'dailyMaxTotal' });
    expect(total.kind === 'refuse' && total.message).toContain('81 USDT in 24 hours (70 USDT before)');
  });

  it('holds above approvalAbove what every other rule lets through', () => {
    const policy: AssetPolicy = { approvalAboveRaw: 2000n * USDT, maxPerRequestRaw: 5000n * USDT };
    expect(decidePolicy(policy, request(2000n * USDT), none)).toEqual({ kind: 'accept' });
    expect(decidePolicy(policy, request(2001n * USDT))).toMatchObject({
      kind: 'hold',
      reason: expect.stringContaining('approvalAbove'),
    });
    expect(decidePolicy(policy, request(5001n * USDT))).toMatchObject({ kind: 'refuse' });
    expect(decidePolicy({ approvalAboveRaw: 0n }, request(1n))).toMatchObject({ kind: 'hold' });
  });
});

describe('COUNTED_STATES', () => {
  it('counts every state but failed, held and batched included', () => {
    expect([...COUNTED_STATES].sort()).toEqual(
      ['accepted', 'batched', 'confirmed', 'held', 'mined', 'sent', 'signed', 'unresolved'].sort(),
    );
  });
});
