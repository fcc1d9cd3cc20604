import { describe, expect, it } from 'vitest';
import { createChecker } from './check.js';
import { ConfigError } from './errors.js';
import { parseConfig } from './parse.js';
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

describe('sweep in config.json', () => {
  const queue = (name: string) => ({ queue: name, exchange: 'x', routing: [`${name}.key`] });
  const file = (eth: object, bsc: object) => ({
    rmq_config: {
      sub_addr: 'amqp://guest:guest@127.0.0.1:5672',
      ...Object.fromEntries(
        ['pay', 'topup', 'withdraw', 'pay_resp', 'topup_resp', 'withdraw_resp'].map((k) => [k, queue(k)]),
      ),
    },
    eth_config: {
      rpcUrl: 'http://localhost:8545',
      wsUrl: 'ws://localhost:8546',
      dbConfig: { driver: 'sqlite', file: 'x.db' },
      collectionAddress: COLLECTION,
      maxFeeGwei: 40,
      ...eth,
    },
    chains: {
      BSC: {
        rpcUrl: 'http://localhost:8547',
        wsUrl: 'ws://localhost:8548',
        chainId: 56,
        native: { symbol: 'BNB', decimals: 18 },
        tokens: { USDT: { address: `0x${'55'.repeat(20)}`, decimals: 18 } },
        ...bsc,
      },
    },
  });

  it('is read on eth_config and on an entry of chains, in each chain’s own assets', () => {
    const config = parseConfig(
      file(
        { sweep: { minAmount: { USDT: '50' } } },
        { collectionAddress: GAS, sweep: { minAmount: { USDT: '50', BNB: '0.1' }, maxFeeGwei: 3 } },
      ),
    );
    expect(config.chain.sweep).toMatchObject({
      minAmountRaw: { USDT: 50_000_000n },
      maxFeePerGasWei: 40n * 10n ** 9n,
    });
    expect(config.chains[1]?.sweep).toMatchObject({
      minAmountRaw: { USDT: 50n * 10n ** 18n, BNB: 10n ** 17n },
      maxFeePerGasWei: 3n * 10n ** 9n,
      gasWalletLc: GAS.toLowerCase(),
    });
    // Without the section, no sweep field at all: a chain reads as it always did.
    expect('sweep' in parseConfig(file({}, {})).chain).toBe(false);
  });

  it('reports the problems of every chain at start with the rest of the config', () => {
    let problems: string[] = [];
    try {
      parseConfig(file({ sweep: { minAmount: { BNB: '1' } } }, { sweep: { minAmount: { USDT: '1' } } }));
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([
      'eth_config.sweep.minAmount.BNB: found "BNB", expected the symbol of one of the chain\'s assets (USDT, ETH)',
      'chains.BSC.collectionAddress: found nothing, expected the collection wallet the sweeps go to (sweep is set)',
    ]);
  });
});
