import { describe, expect, it } from 'vitest';
import { createChecker } from './check.js';
import { parsePolicies } from './policies.js';

const ASSETS = [
  { symbol: 'USDT', decimals: 6 },
  { symbol: 'ETH', decimals: 18 },
];
const TO = '0xAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAa';

function parse(value: unknown) {
  const c = createChecker();
  const policies = parsePolicies(c, 'eth_config', value, ASSETS);
  return { policies, problems: c.problems };
}

describe('parsePolicies', () => {
  it('reads every field exactly in the asset’s decimals, keyed by the configured symbol', () => {
    const { policies, problems } = parse({
      usdt: {
        maxPerRequest: '1000.5',
        dailyMaxPerFrom: 5000,
        dailyMaxTotal: '50000',
        allowTo: [TO, TO.toLowerCase()],
        approvalAbove: '0',
      },
      ETH: { maxPerRequest: '0.000000000000000001' },
    });
    expect(problems).toEqual([]);
    expect(policies).toEqual({
      USDT: {
        maxPerRequestRaw: 1_000_500_000n,
        dailyMaxPerFromRaw: 5_000_000_000n,
        dailyMaxTotalRaw: 50_000_000_000n,
        allowToLc: [TO.toLowerCase()],
        approvalAboveRaw: 0n,
      },
      ETH: { maxPerRequestRaw: 1n },
    });
    expect(parse(undefined).policies).toEqual({});
    expect(parse(null).policies).toEqual({});
  });

  it('reports unknown symbols and fields, bad amounts and addresses, all at once', () => {
    const { policies, problems } = parse({
      DAI: {},
      USDT: { maxPerRequest: '1.0000001', dailyMax: '1', allowTo: ['0x12'], approvalAbove: -1 },
      ETH: { allowTo: [] },
    });
    expect(policies).toBeUndefined();
    expect(problems).toEqual([
      'eth_config.policies.DAI: found "DAI", expected the symbol of one of the chain\'s assets (USDT, ETH)',
      'eth_config.policies.USDT.dailyMax: found "1", expected one of the fields maxPerRequest, dailyMaxPerFrom, dailyMaxTotal, allowTo, approvalAbove',
      'eth_config.policies.USDT.maxPerRequest: found "1.0000001", expected an amount such as "1000" (a decimal string, at most 6 decimals, "0" allowed)',
      'eth_config.policies.USDT.approvalAbove: found -1, expected an amount such as "1000" (a decimal string, at most 6 decimals, "0" allowed)',
      'eth_config.policies.USDT.allowTo[0]: found "0x12", expected a 0x-prefixed 20-byte hex address',
      'eth_config.policies.ETH.allowTo: found [], expected a non-empty list of 0x addresses (leave allowTo out for any recipient)',
    ]);
  });
});
