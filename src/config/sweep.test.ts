import { describe, expect, it } from 'vitest';
import { createChecker } from './check.js';
import { parseSweep } from './sweep.js';

const ASSETS = [
  { symbol: 'USDT', decimals: 6 },
  { symbol: 'ETH', decimals: 18 },
];
const COLLECTION = '0xcccccccccccccccccccccccccccccccccccccccc';
const GAS = '0xAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAa';

function parse(value: unknown, collection: `0x${string}` | null = COLLECTION) {
  const collectionAddressLc = collection ?? undefined;
  const c = createChecker();
  const sweep = parseSweep(c, 'eth_config', value, ASSETS, { maxFeeGwei: 500, collectionAddressLc });
  return { sweep, problems: c.problems };
}

describe('parseSweep', () => {
  it('reads every field exactly, amounts in the asset’s decimals, keyed by the configured symbol', () => {
    const { sweep, problems } = parse({
      enabled: false,
      intervalSeconds: 300,
      minAmount: { usdt: '50', ETH: 0.5 },
      maxFeeGwei: 30,
      keepDust: { USDT: '0.000001', eth: '0' },
      gasWallet: GAS,
    });
    expect(problems).toEqual([]);
    expect(sweep).toEqual({
      enabled: false,
      intervalSeconds: 300,
      minAmountRaw: { USDT: 50_000_000n, ETH: 500_000_000_000_000_000n },
      maxFeePerGasWei: 30_000_000_000n,
      keepDustRaw: { USDT: 1n, ETH: 0n },
      gasWalletLc: GAS.toLowerCase(),
    });
  });

  it('defaults: enabled, every 600 s, the chain’s fee cap, no dust, the collection wallet pays the gas', () => {
    const { sweep, problems } = parse({ minAmount: { USDT: '50' } });
    expect(problems).toEqual([]);
    expect(sweep).toEqual({
      enabled: true,
      intervalSeconds: 600,
      minAmountRaw: { USDT: 50_000_000n },
      maxFeePerGasWei: 500_000_000_000n,
      keepDustRaw: {},
      gasWalletLc: COLLECTION,
    });
    expect(parse(undefined).sweep).toBeNull();
    expect(parse(null).sweep).toBeNull();
  });

  it('reports every problem at once, each with its path', () => {
    const { sweep, problems } = parse(
      {
        enabled: 'yes',
        intervalSeconds: 1,
        minAmount: { USDT: '0', DAI: '5', eth: '1.0000000000000000001' },
        maxFeeGwei: 0,
        keepDust: { USDT: '-1' },
        gasWallet: '0x12',
        interval: 5,
      },
      null,
    );
    expect(sweep).toBeUndefined();
    expect(problems).toEqual([
      'eth_config.sweep.interval: found 5, expected one of the fields enabled, intervalSeconds, minAmount, maxFeeGwei, keepDust, gasWallet',
      'eth_config.sweep.enabled: found "yes", expected true or false',
      'eth_config.sweep.intervalSeconds: found 1, expected a whole number of seconds from 10 to 604800 (a week)',
      'eth_config.sweep.maxFeeGwei: found 0, expected a whole number of gwei from 1',
      'eth_config.sweep.minAmount.USDT: found "0", expected an amount such as "50" (a decimal string, at most 6 decimals, above 0)',
      'eth_config.sweep.minAmount.DAI: found "DAI", expected the symbol of one of the chain\'s assets (USDT, ETH)',
      'eth_config.sweep.minAmount.eth: found "1.0000000000000000001", expected an amount such as "50" (a decimal string, at most 18 decimals, above 0)',
      'eth_config.sweep.keepDust.USDT: found "-1", expected an amount such as "0.000001" (a decimal string, at most 6 decimals, "0" allowed)',
      'eth_config.collectionAddress: found nothing, expected the collection wallet the sweeps go to (sweep is set)',
      'eth_config.sweep.gasWallet: found "0x12", expected a 0x-prefixed 20-byte hex address',
    ]);
  });

  it('refuses a section that sweeps nothing, and dust at or above the threshold', () => {
    expect(parse({}).problems).toEqual([
      'eth_config.sweep.minAmount: found nothing, expected the threshold of each asset to sweep, e.g. { "USDT": "50" }',
    ]);
    expect(parse({ minAmount: {} }).problems).toEqual([
      'eth_config.sweep.minAmount: found {}, expected at least one asset, e.g. { "USDT": "50" }',
    ]);
    const { sweep, problems } = parse({ minAmount: { USDT: '1' }, keepDust: { USDT: '1' } });
    expect(sweep).toBeUndefined();
    expect(problems).toEqual([
      'eth_config.sweep.keepDust.USDT: found "1000000", expected less than minAmount.USDT (in base units)',
    ]);
    expect(parse([]).problems).toEqual(['eth_config.sweep: found [], expected an object']);
  });
});
