import { describe, expect, it } from 'vitest';
import { parseBatch } from './batch.js';
import { createChecker } from './check.js';
import { ConfigError } from './errors.js';
import { parseConfig } from './parse.js';

const COLLECTION = '0xcccccccccccccccccccccccccccccccccccccccc';
const BATCHER = '0xBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBb';

function parse(value: unknown, collection: `0x${string}` | null = COLLECTION) {
  const c = createChecker();
  const batch = parseBatch(c, 'eth_config', value, { collectionAddressLc: collection ?? undefined });
  return { batch, problems: c.problems };
}

describe('parseBatch', () => {
  it('reads every field, the address lowercase', () => {
    const { batch, problems } = parse({ enabled: true, maxSize: 250, maxWaitMs: 0, address: BATCHER });
    expect(problems).toEqual([]);
    expect(batch).toEqual({ enabled: true, maxSize: 250, maxWaitMs: 0, addressLc: BATCHER.toLowerCase() });
  });

  it('defaults: enabled, 100 payments, 2000 ms; absent or null: no batching', () => {
    expect(parse({ address: BATCHER })).toEqual({
      batch: { enabled: true, maxSize: 100, maxWaitMs: 2000, addressLc: BATCHER.toLowerCase() },
      problems: [],
    });
    expect(parse(undefined).batch).toBeNull();
    expect(parse(null).batch).toBeNull();
  });

  it('needs no address or collection wallet while off, and keeps one given', () => {
    expect(parse({ enabled: false }, null)).toEqual({
      batch: { enabled: false, maxSize: 100, maxWaitMs: 2000 },
      problems: [],
    });
    expect(parse({ enabled: false, address: BATCHER }).batch).toEqual({
      enabled: false,
      maxSize: 100,
      maxWaitMs: 2000,
      addressLc: BATCHER.toLowerCase(),
    });
  });

  it('reports every problem at once, each with its path', () => {
    const { batch, problems } = parse(
      { enabled: 1, maxSize: 1, maxWaitMs: 60_001, address: '0x12', size: 5 },
      null,
    );
    expect(batch).toBeUndefined();
    expect(problems).toEqual([
      'eth_config.batch.size: found 5, expected one of the fields enabled, maxSize, maxWaitMs, address',
      'eth_config.batch.enabled: found 1, expected true or false',
      'eth_config.batch.maxSize: found 1, expected a whole number of payments from 2 to 500',
      'eth_config.batch.maxWaitMs: found 60001, expected a whole number of milliseconds from 0 to 60000',
      'eth_config.batch.address: found "0x12", expected a 0x-prefixed 20-byte hex address',
      'eth_config.collectionAddress: found nothing, expected the collection wallet that pays the batches (batch is enabled)',
    ]);
  });

  it('refuses an enabled section without its contract, and one that is not an object', () => {
    expect(parse({ maxSize: 501 }).problems).toEqual([
      'eth_config.batch.maxSize: found 501, expected a whole number of payments from 2 to 500',
      'eth_config.batch.address: found nothing, expected the batcher contract (m2pool-payment contracts deploy-batcher prints it)',
    ]);
    expect(parse(true).problems).toEqual(['eth_config.batch: found true, expected an object']);
  });
});

describe('batch in config.json', () => {
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
      ...eth,
    },
    chains: {
      BSC: {
        rpcUrl: 'http://localhost:8547',
        wsUrl: 'ws://localhost:8548',
        chainId: 56,
        native: { symbol: 'BNB', decimals: 18 },
        ...bsc,
      },
    },
  });

  it('is read on eth_config and on an entry of chains', () => {
    const config = parseConfig(
      file({ batch: { address: BATCHER, maxSize: 50 } }, { batch: { enabled: false, address: BATCHER } }),
    );
    expect(config.chain.batch).toEqual({
      enabled: true,
      maxSize: 50,
      maxWaitMs: 2000,
      addressLc: BATCHER.toLowerCase(),
    });
    expect(config.chains[1]?.batch).toMatchObject({ enabled: false, addressLc: BATCHER.toLowerCase() });
    // Without the section, no batch field at all: a chain reads as it always did.
    expect('batch' in parseConfig(file({}, {})).chain).toBe(false);
  });

  it('reports the problems of every chain at start with the rest of the config', () => {
    let problems: string[] = [];
    try {
      parseConfig(file({ batch: { enabled: true } }, { batch: { address: BATCHER } }));
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([
      'eth_config.batch.address: found nothing, expected the batcher contract (m2pool-payment contracts deploy-batcher prints it)',
      'chains.BSC.collectionAddress: found nothing, expected the collection wallet that pays the batches (batch is enabled)',
    ]);
  });
});
