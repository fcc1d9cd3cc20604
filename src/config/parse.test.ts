import { describe, expect, it } from 'vitest';
import { defaultAlertsConfig } from './alerts.js';
import { ConfigError } from './errors.js';
import { parseConfig } from './parse.js';

/** The v2 example from PROTOCOL §1, verbatim. */
const V2_TEXT = `{
  "rmq_config": {
    "sub_addr": "amqp://m2pool:m2pool@localhost:5672",
    "pay":           { "queue": "pay.auto.queue",            "exchange": "pay.exchange", "routing": ["pay.auto.routing.key"] },
    "topup":         { "queue": "pay.recharge.queue",        "exchange": "pay.exchange", "routing": ["pay.recharge.routing.key"] },
    "withdraw":      { "queue": "pay.withdraw.queue",        "exchange": "pay.exchange", "routing": ["pay.withdraw.routing.key"] },
    "pay_resp":      { "queue": "pay.auto.return.queue",     "exchange": "pay.exchange", "routing": ["pay.auto.return.routing.key"] },
    "topup_resp":    { "queue": "pay.recharge.return.queue", "exchange": "pay.exchange", "routing": ["pay.recharge.return.routing.key"] },
    "withdraw_resp": { "queue": "pay.withdraw.return.queue", "exchange": "pay.exchange", "routing": ["pay.withdraw.return.routing.key"] }
  },
  "eth_config": {
    "rpcUrl": "http://localhost:8545",
    "wsUrl": "ws://localhost:8546",
    "confirmHeight": 20,
    "dbConfig": { "user": "root", "password": "", "host": "127.0.0.1", "port": 3306, "database": "payment",
                  "maxOpenConns": 20, "maxIdleCoons": 20, "connMaxLife": 120 }
  }
}`;

// biome-ignore lint/suspicious/noExplicitAny: the tests mutate deep JSON freely
type Mutable = Record<string, any>;
function v2(): Mutable {
  return JSON.parse(V2_TEXT);
}

function problemsOf(json: unknown): string[] {
  try {
    parseConfig(json);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const error = err as ConfigError;
    expect(error.code).toBe('invalid_config');
    expect(error.message).toBe(error.problems.join('\n'));
    return error.problems;
  }
  throw new Error('parseConfig did not throw');
}

describe('parseConfig', () => {
  it('accepts the PROTOCOL example unchanged, with defaults', () => {
    const chain = {
      name: 'ETH',
      chainId: undefined,
      rpcUrl: 'http://localhost:8545',
      wsUrl: 'ws://localhost:8546',
      rpcUrls: ['http://localhost:8545'],
      wsUrls: ['ws://localhost:8546'],
      confirmHeight: 20,
      native: { symbol: 'ETH', decimals: 18 },
      tokens: [{ symbol: 'USDT', addressLc: '0xdac17f958d2ee523a2206206994597c13d831ec7', decimals: 6 }],
      collectionAddressLc: undefined,
      maxFeePerGasWei: 500_000_000_000n,
      replaceAfterBlocks: 5,
    };
    const parsed = parseConfig(v2());
    // The one chain of a v2 file is `chains`' only entry, the very object `chain` is.
    expect(parsed.chains).toHaveLength(1);
    expect(parsed.chains[0]).toBe(parsed.chain);
    expect(parsed).toEqual({
      rmq: {
        url: 'amqp://m2pool:m2pool@localhost:5672',
        topup: {
          queue: 'pay.recharge.queue',
          exchange: 'pay.exchange',
          routing: ['pay.recharge.routing.key'],
        },
        withdraw: {
          queue: 'pay.withdraw.queue',
          exchange: 'pay.exchange',
          routing: ['pay.withdraw.routing.key'],
        },
        pay: { queue: 'pay.auto.queue', exchange: 'pay.exchange', routing: ['pay.auto.routing.key'] },
        topupResp: {
          queue: 'pay.recharge.return.queue',
          exchange: 'pay.exchange',
          routing: ['pay.recharge.return.routing.key'],
        },
        withdrawResp: {
          queue: 'pay.withdraw.return.queue',
          exchange: 'pay.exchange',
          routing: ['pay.withdraw.return.routing.key'],
        },
        payResp: {
          queue: 'pay.auto.return.queue',
          exchange: 'pay.exchange',
          routing: ['pay.auto.return.routing.key'],
        },
      },
      chain,
      chains: [chain],
      db: {
        driver: 'mysql',
        host: '127.0.0.1',
        port: 3306,
        user: 'root',
        password: '',
        database: 'payment',
        maxOpenConns: 20,
        connMaxLifeS: 120,
      },
      http: { host: '127.0.0.1', port: 8080 },
      signWindowS: 86_400,
      alerts: defaultAlertsConfig(),
    });
  });

  it('reads the optional fields, ignoring unknown ones', () => {
    const json = v2();
    json.eth_config.chainId = 1;
    json.eth_config.tokens = { USDC: { address: '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48', decimals: 6 } };
    json.eth_config.collectionAddress = '0x1111111111111111111111111111111111111111';
    json.eth_config.dbConfig = { driver: 'sqlite', file: '/tmp/pay.db' };
    json.http_config = { addr: ':9090' };
    json.sign_window_s = 0;
    json.something_new = { x: 1 };
    delete json.eth_config.confirmHeight;
    const config = parseConfig(json);
    expect(config.chain).toMatchObject({
      chainId: 1,
      confirmHeight: 20,
      tokens: [{ symbol: 'USDC', addressLc: '0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48', decimals: 6 }],
      collectionAddressLc: '0x1111111111111111111111111111111111111111',
    });
    expect(config.db).toEqual({ driver: 'sqlite', file: '/tmp/pay.db' });
    expect(config.http).toEqual({ host: '0.0.0.0', port: 9090 });
    expect(config.signWindowS).toBe(0);
  });

  it('parses IPv6 http addresses', () => {
    expect(parseConfig({ ...v2(), http_config: { addr: '[::1]:8080' } }).http).toEqual({
      host: '::1',
      port: 8080,
    });
  });

  it.each<[string, (json: Mutable) => void, string]>([
    [
      'confirmHeight',
      (j) => {
        j.eth_config.confirmHeight = 'abc';
      },
      'eth_config.confirmHeight: found "abc", expected a positive integer',
    ],
    [
      'routing',
      (j) => {
        j.rmq_config.topup.routing = [];
      },
      'rmq_config.topup.routing: found [], expected a non-empty list of routing keys',
    ],
    [
      'token address',
      (j) => {
        j.eth_config.tokens = { USDT: { address: '0x12', decimals: 6 } };
      },
      'eth_config.tokens.USDT.address: found "0x12", expected a 0x-prefixed 20-byte hex address',
    ],
    [
      'token decimals',
      (j) => {
        j.eth_config.tokens = {
          USDT: { address: '0xdAC17F958D2ee523a2206206994597C13D831ec7', decimals: 6.5 },
        };
      },
      'eth_config.tokens.USDT.decimals: found 6.5, expected an integer from 0 to 255',
    ],
    [
      'empty tokens',
      (j) => {
        j.eth_config.tokens = {};
      },
      'eth_config.tokens: found {}, expected at least one token',
    ],
    [
      'rmq url',
      (j) => {
        j.rmq_config.sub_addr = 'http://guest:hunter2@localhost';
      },
      'rmq_config.sub_addr: found "http://guest:***@localhost", expected an amqp:// or amqps:// URL',
    ],
    [
      'rpc url',
      (j) => {
        j.eth_config.rpcUrl = 'ws://localhost:8545';
      },
      'eth_config.rpcUrl: found "ws://localhost:8545", expected a http:// or https:// URL',
    ],
    [
      'ws url',
      (j) => {
        delete j.eth_config.wsUrl;
      },
      'eth_config.wsUrl: found nothing, expected a ws:// or wss:// URL',
    ],
    [
      'missing queue',
      (j) => {
        delete j.rmq_config.pay_resp;
      },
      'rmq_config.pay_resp: found nothing, expected an object',
    ],
    [
      'shared queue',
      (j) => {
        j.rmq_config.withdraw.queue = 'pay.recharge.queue';
      },
      'rmq_config.withdraw.queue: found "pay.recharge.queue", expected a queue name not already used by rmq_config.topup',
    ],
    [
      'driver',
      (j) => {
        j.eth_config.dbConfig.driver = 'postgres';
      },
      'eth_config.dbConfig.driver: found "postgres", expected "mysql" or "sqlite"',
    ],
    [
      'sqlite file',
      (j) => {
        j.eth_config.dbConfig = { driver: 'sqlite' };
      },
      'eth_config.dbConfig.file: found nothing, expected a non-empty string',
    ],
    [
      'password is never printed',
      (j) => {
        j.eth_config.dbConfig.password = 12345;
      },
      'eth_config.dbConfig.password: found a number, expected a string',
    ],
    [
      'maxIdleCoons',
      (j) => {
        j.eth_config.dbConfig.maxIdleCoons = -1;
      },
      'eth_config.dbConfig.maxIdleCoons: found -1, expected a non-negative integer',
    ],
    [
      'collection address',
      (j) => {
        j.eth_config.collectionAddress = 'me';
      },
      'eth_config.collectionAddress: found "me", expected a 0x-prefixed 20-byte hex address',
    ],
    [
      'http addr',
      (j) => {
        j.http_config = { addr: 'localhost' };
      },
      'http_config.addr: found "localhost", expected host:port with a port from 0 to 65535, e.g. "127.0.0.1:8080"',
    ],
    [
      'sign window',
      (j) => {
        j.sign_window_s = -5;
      },
      'sign_window_s: found -5, expected a non-negative number of seconds',
    ],
    [
      'chainId',
      (j) => {
        j.eth_config.chainId = '1';
      },
      'eth_config.chainId: found "1", expected a positive integer',
    ],
    [
      'symbols differing in case',
      (j) => {
        j.eth_config.tokens = {
          USDT: { address: '0xdAC17F958D2ee523a2206206994597C13D831ec7', decimals: 6 },
          usdt: { address: '0x1111111111111111111111111111111111111111', decimals: 6 },
        };
      },
      'eth_config.tokens.usdt: found "usdt", expected a symbol different from USDT (symbols match in any case)',
    ],
    [
      'a symbol longer than its column',
      (j) => {
        j.eth_config.tokens = {
          'USDT-ERC20-TOKEN1': { address: '0xdAC17F958D2ee523a2206206994597C13D831ec7', decimals: 6 },
          'USDT-ERC20-TOKEN': { address: '0x1111111111111111111111111111111111111111', decimals: 6 },
        };
      },
      'eth_config.tokens.USDT-ERC20-TOKEN1: found "USDT-ERC20-TOKEN1", expected a symbol of at most 16 characters (its database column)',
    ],
  ])('reports %s', (_name, mutate, line) => {
    const json = v2();
    mutate(json);
    expect(problemsOf(json)).toEqual([line]);
  });

  it('reports every problem, one line each', () => {
    const json = v2();
    json.rmq_config.sub_addr = 5;
    json.rmq_config.pay.routing = ['ok', ''];
    json.eth_config.confirmHeight = 0;
    json.eth_config.dbConfig.port = 'x';
    delete json.eth_config.dbConfig.database;
    expect(problemsOf(json)).toEqual([
      'rmq_config.sub_addr: found 5, expected an amqp:// or amqps:// URL',
      'rmq_config.pay.routing[1]: found "", expected a non-empty string',
      'eth_config.confirmHeight: found 0, expected a positive integer',
      'eth_config.dbConfig.port: found "x", expected a port from 1 to 65535',
      'eth_config.dbConfig.database: found nothing, expected a non-empty string',
    ]);
  });

  it('reports a config that is not an object, or lacks its sections', () => {
    expect(problemsOf([1])).toEqual(['config: found [1], expected an object']);
    expect(problemsOf({})).toEqual([
      'rmq_config: found nothing, expected an object',
      'eth_config: found nothing, expected an object',
    ]);
  });
});

describe('payout settings', () => {
  it('reads eth_config.maxFeeGwei and replaceAfterBlocks, and reports bad values', () => {
    const config = v2();
    config.eth_config.maxFeeGwei = 30;
    config.eth_config.replaceAfterBlocks = 8;
    const parsed = parseConfig(config);
    expect(parsed.chain.maxFeePerGasWei).toBe(30_000_000_000n);
    expect(parsed.chain.replaceAfterBlocks).toBe(8);
    config.eth_config.maxFeeGwei = 0;
    config.eth_config.replaceAfterBlocks = 'soon';
    expect(() => parseConfig(config)).toThrow(ConfigError);
    try {
      parseConfig(config);
    } catch (err) {
      const problems = (err as ConfigError).problems;
      expect(problems.some((p) => p.startsWith('eth_config.maxFeeGwei: found 0'))).toBe(true);
      expect(problems.some((p) => p.startsWith('eth_config.replaceAfterBlocks: found "soon"'))).toBe(true);
    }
  });
});

describe('alerts', () => {
  it('has the v2 thresholds by default', () => {
    expect(parseConfig(v2()).alerts).toEqual({
      pending: { warning: 100, critical: 500 },
      queueUsagePct: { warning: 80, critical: 95 },
      failureRatePct: { warning: 5, critical: 10 },
      memoryPct: { warning: 80, critical: 95 },
      cpuPct: { warning: 70, critical: 90 },
      queueCapacity: 10_000,
      collectionGasFloorWei: 50_000_000_000_000_000n,
      watcherLagBlocks: 10,
      payoutStuckMinutes: 30,
    });
  });

  it('reads each threshold, keeping the defaults of what is not given', () => {
    const json = v2();
    json.alerts = {
      pending: { warning: 5 },
      cpu: { warning: 50, critical: 150 },
      queueUsage: { critical: 99.5 },
      queueCapacity: 500,
      collectionGasFloorEth: '1.25',
      watcherLagBlocks: 3,
    };
    const alerts = parseConfig(json).alerts;
    expect(alerts.pending).toEqual({ warning: 5, critical: 500 });
    expect(alerts.cpuPct).toEqual({ warning: 50, critical: 150 });
    expect(alerts.queueUsagePct).toEqual({ warning: 80, critical: 99.5 });
    expect(alerts.memoryPct).toEqual({ warning: 80, critical: 95 });
    expect(alerts.queueCapacity).toBe(500);
    expect(alerts.collectionGasFloorWei).toBe(1_250_000_000_000_000_000n);
    expect(alerts.watcherLagBlocks).toBe(3);
    json.alerts = { collectionGasFloorEth: 0.5 };
    expect(parseConfig(json).alerts.collectionGasFloorWei).toBe(500_000_000_000_000_000n);
    json.alerts = { collectionGasFloorEth: '0' };
    expect(parseConfig(json).alerts.collectionGasFloorWei).toBe(0n);
  });

  it('reports every bad threshold, one line each', () => {
    const json = v2();
    json.alerts = {
      pending: { warning: 1.5, critical: 'lots' },
      memory: { warning: 90, critical: 80 },
      failureRate: { warning: 120 },
      cpu: 70,
      queueCapacity: 0,
      collectionGasFloorEth: '0.1234567890123456789',
      watcherLagBlocks: -1,
    };
    expect(problemsOf(json)).toEqual([
      'alerts.pending.warning: found 1.5, expected a whole number of transactions',
      'alerts.pending.critical: found "lots", expected a whole number of transactions',
      'alerts.failureRate.warning: found 120, expected a percentage from 0 to 100',
      'alerts.memory.critical: found 80, expected a value not below warning (90)',
      'alerts.cpu: found 70, expected an object',
      'alerts.queueCapacity: found 0, expected a positive number of messages',
      'alerts.collectionGasFloorEth: found "0.1234567890123456789", expected an amount of ETH such as "0.05" (at most 18 decimals; "0" for off)',
      'alerts.watcherLagBlocks: found -1, expected a positive number of blocks',
    ]);
    expect(problemsOf({ ...v2(), alerts: [] })).toEqual(['alerts: found [], expected an object']);
  });
});

/** The BSC example beside the v2 file: native BNB and an 18-decimal USDT (BSC-USD). */
const BSC_USDT = '0x55d398326f99059fF775485246999027B3197955';
function twoChains(): Mutable {
  const json = v2();
  json.eth_config.chainId = 1;
  json.chains = {
    BSC: {
      rpcUrl: 'https://bsc.example/rpc/KEY1',
      wsUrl: 'wss://bsc.example/ws/KEY1',
      chainId: 56,
      confirmHeight: 15,
      native: { symbol: 'BNB', decimals: 18 },
      tokens: { USDT: { address: BSC_USDT, decimals: 18 } },
      collectionAddress: '0x2222222222222222222222222222222222222222',
      maxFeeGwei: 20,
      replaceAfterBlocks: 4,
    },
  };
  return json;
}

describe('chains', () => {
  it('reads a second chain after ETH, with its native coin and an 18-decimal token', () => {
    const parsed = parseConfig(twoChains());
    expect(parsed.chains.map((c) => c.name)).toEqual(['ETH', 'BSC']);
    expect(parsed.chains[0]).toBe(parsed.chain);
    expect(parsed.chain).toMatchObject({ name: 'ETH', chainId: 1, native: { symbol: 'ETH', decimals: 18 } });
    expect(parsed.chains[1]).toEqual({
      name: 'BSC',
      chainId: 56,
      rpcUrl: 'https://bsc.example/rpc/KEY1',
      wsUrl: 'wss://bsc.example/ws/KEY1',
      rpcUrls: ['https://bsc.example/rpc/KEY1'],
      wsUrls: ['wss://bsc.example/ws/KEY1'],
      confirmHeight: 15,
      native: { symbol: 'BNB', decimals: 18 },
      tokens: [{ symbol: 'USDT', addressLc: BSC_USDT.toLowerCase(), decimals: 18 }],
      collectionAddressLc: '0x2222222222222222222222222222222222222222',
      maxFeePerGasWei: 20_000_000_000n,
      replaceAfterBlocks: 4,
    });
  });

  it('gives an entry the defaults of eth_config, no tokens, and keeps the order of the file', () => {
    const json = twoChains();
    json.chains = {
      POLYGON: {
        rpcUrl: 'http://p:8545',
        wsUrl: 'ws://p:8546',
        chainId: 137,
        native: { symbol: 'POL', decimals: 18 },
      },
      BSC: json.chains.BSC,
    };
    const parsed = parseConfig(json);
    expect(parsed.chains.map((c) => c.name)).toEqual(['ETH', 'POLYGON', 'BSC']);
    expect(parsed.chains[1]).toMatchObject({
      confirmHeight: 20,
      tokens: [],
      collectionAddressLc: undefined,
      maxFeePerGasWei: 500_000_000_000n,
      replaceAfterBlocks: 5,
    });
    expect(parseConfig({ ...v2(), chains: null }).chains).toHaveLength(1);
    expect(parseConfig({ ...v2(), chains: {} }).chains).toHaveLength(1);
  });

  it('reads eth_config.native', () => {
    const json = v2();
    json.eth_config.native = { symbol: 'xDAI', decimals: 18 };
    expect(parseConfig(json).chain.native).toEqual({ symbol: 'xDAI', decimals: 18 });
  });

  it('lists node URLs: the single field first, then the list, without repeats', () => {
    const json = twoChains();
    json.eth_config.rpcUrls = ['https://a.example/v3/KEY', 'http://localhost:8545/', 'https://b.example'];
    json.eth_config.wsUrls = ['ws://localhost:8546', 'wss://b.example'];
    delete json.chains.BSC.rpcUrl;
    delete json.chains.BSC.wsUrl;
    json.chains.BSC.rpcUrls = ['https://bsc-1.example', 'https://bsc-2.example', 'https://bsc-1.example'];
    json.chains.BSC.wsUrls = ['wss://bsc-1.example'];
    const [eth, bsc] = parseConfig(json).chains;
    expect(eth?.rpcUrls).toEqual(['http://localhost:8545', 'https://a.example/v3/KEY', 'https://b.example']);
    expect(eth?.rpcUrl).toBe('http://localhost:8545');
    expect(eth?.wsUrls).toEqual(['ws://localhost:8546', 'wss://b.example']);
    expect(bsc?.rpcUrls).toEqual(['https://bsc-1.example', 'https://bsc-2.example']);
    expect(bsc?.rpcUrl).toBe('https://bsc-1.example');
    expect(bsc?.wsUrl).toBe('wss://bsc-1.example');
  });

  it.each<[string, (json: Mutable) => void, string[]]>([
    [
      'an rpcUrls list that is empty, with no rpcUrl',
      (j) => {
        delete j.eth_config.rpcUrl;
        j.eth_config.rpcUrls = [];
      },
      ['eth_config.rpcUrls: found [], expected at least one http:// or https:// URL here or in rpcUrl'],
    ],
    [
      'a bad URL in a list, without its path or query',
      (j) => {
        j.chains.BSC.rpcUrls = ['https://ok.example', 'ftp://bsc.example/v1/SECRET?key=SECRET'];
        j.chains.BSC.wsUrls = 'wss://bsc.example/ws/SECRET';
      },
      [
        'chains.BSC.rpcUrls[1]: found "ftp://bsc.example/[redacted]", expected a http:// or https:// URL',
        'chains.BSC.wsUrls: found "wss://bsc.example/[redacted]", expected a list of ws:// or wss:// URLs',
      ],
    ],
    [
      'a bad URL without its path, query or user',
      (j) => {
        j.eth_config.rpcUrl = 'mainnet.example/v3/SECRET';
        j.eth_config.wsUrl = 'https://user:SECRET@node.example/?apikey=SECRET';
        j.chains.BSC.rpcUrl = 'user:SECRET@bsc.example';
      },
      [
        'eth_config.rpcUrl: found "mainnet.example/[redacted]", expected a http:// or https:// URL',
        'eth_config.wsUrl: found "https://node.example/[redacted]", expected a ws:// or wss:// URL',
        'chains.BSC.rpcUrl: found "bsc.example/[redacted]", expected a http:// or https:// URL',
      ],
    ],
    [
      'no node URL',
      (j) => {
        delete j.chains.BSC.rpcUrl;
        delete j.chains.BSC.wsUrl;
      },
      [
        'chains.BSC.rpcUrl: found nothing, expected a http:// or https:// URL',
        'chains.BSC.wsUrl: found nothing, expected a ws:// or wss:// URL',
      ],
    ],
    [
      'unknown fields of an entry, its native coin and its tokens',
      (j) => {
        j.chains.BSC.confirmHieght = 15;
        j.chains.BSC.dbConfig = { user: 'root', password: 'SECRET' };
        j.chains.BSC.native.name = 'Binance Coin';
        j.chains.BSC.tokens.USDT.decimal = 18;
      },
      [
        'chains.BSC.confirmHieght: found 15, expected one of the fields rpcUrl, rpcUrls, wsUrl, wsUrls, chainId, confirmHeight, native, tokens, collectionAddress, maxFeeGwei, replaceAfterBlocks, policies, sweep, batch',
        'chains.BSC.dbConfig: found an object, expected no dbConfig here (one database serves every chain: eth_config.dbConfig)',
        'chains.BSC.native.name: found "Binance Coin", expected one of the fields symbol, decimals',
        'chains.BSC.tokens.USDT.decimal: found 18, expected one of the fields address, decimals',
      ],
    ],
    [
      'an entry without chainId or native',
      (j) => {
        delete j.chains.BSC.chainId;
        delete j.chains.BSC.native;
      },
      [
        'chains.BSC.chainId: found nothing, expected a positive integer',
        'chains.BSC.native: found nothing, expected the native coin, e.g. { "symbol": "BNB", "decimals": 18 }',
      ],
    ],
    [
      'a bad native coin',
      (j) => {
        j.chains.BSC.native = { symbol: '', decimals: 18.5 };
        j.eth_config.native = 'ETH';
      },
      [
        'eth_config.native: found "ETH", expected an object',
        'chains.BSC.native.symbol: found "", expected a non-empty string',
        'chains.BSC.native.decimals: found 18.5, expected an integer from 0 to 255',
      ],
    ],
    [
      'a token with the native coin’s symbol',
      (j) => {
        j.chains.BSC.tokens.bnb = { address: '0xB8c77482e45F1F44dE1745F52C74426C631bDD52', decimals: 18 };
        j.eth_config.tokens = {
          Eth: { address: '0x1111111111111111111111111111111111111111', decimals: 18 },
        };
      },
      [
        'eth_config.tokens.Eth: found "Eth", expected a symbol different from the native coin\'s ETH',
        'chains.BSC.tokens.bnb: found "bnb", expected a symbol different from the native coin\'s BNB',
      ],
    ],
    [
      'chain names that collide in any letter case',
      (j) => {
        const bsc = j.chains.BSC;
        j.chains = {
          eth: { ...bsc, chainId: 2 },
          BSC: bsc,
          Bsc: { ...bsc, chainId: 57 },
        };
      },
      [
        'chains.eth: found "eth", expected a chain name different from ETH (the chain of eth_config) (names match in any case)',
        'chains.Bsc: found "Bsc", expected a chain name different from BSC (names match in any case)',
      ],
    ],
    [
      'names and symbols over 16 characters',
      (j) => {
        j.chains.BINANCE_SMART_CHAIN = {
          ...j.chains.BSC,
          chainId: 57,
          native: { symbol: 'BNB', decimals: 18 },
        };
        j.chains.BSC.native.symbol = 'BINANCE-COIN-BNB1';
        j.chains.BSC.tokens = { 'BINANCE-PEG-USDT1': { address: BSC_USDT, decimals: 18 } };
      },
      [
        'chains.BSC.native.symbol: found "BINANCE-COIN-BNB1", expected a symbol of at most 16 characters (its database column)',
        'chains.BSC.tokens.BINANCE-PEG-USDT1: found "BINANCE-PEG-USDT1", expected a symbol of at most 16 characters (its database column)',
        'chains.BINANCE_SMART_CHAIN: found "BINANCE_SMART_CHAIN", expected a chain name of at most 16 characters (its database column)',
      ],
    ],
    [
      'chain ids used twice',
      (j) => {
        j.chains.BSC.chainId = 1;
        j.chains.OPBNB = { ...j.chains.BSC, chainId: 56 };
        j.chains.BSC_TESTNET = { ...j.chains.BSC, chainId: 56 };
      },
      [
        'chains.BSC.chainId: found 1, expected a chain id not already used by eth_config',
        'chains.BSC_TESTNET.chainId: found 56, expected a chain id not already used by chains.OPBNB',
      ],
    ],
    [
      'chains that is not an object',
      (j) => {
        j.chains = ['BSC'];
      },
      ['chains: found ["BSC"], expected an object'],
    ],
  ])('reports %s', (_name, mutate, lines) => {
    const json = twoChains();
    mutate(json);
    const problems = problemsOf(json);
    expect(problems).toEqual(lines);
    expect(problems.join('\n')).not.toContain('SECRET');
  });

  it('reports every problem of every chain at once', () => {
    const json = twoChains();
    json.eth_config.confirmHeight = 0;
    json.chains.BSC.chainId = '56';
    json.chains.BSC.tokens.USDT.decimals = 256;
    json.chains.bnb = {
      ...json.chains.BSC,
      chainId: 97,
      native: { symbol: 'tBNB', decimals: 18 },
      maxFeeGwei: 0,
    };
    json.chains.BNB = json.chains.bnb;
    expect(problemsOf(json)).toEqual([
      'eth_config.confirmHeight: found 0, expected a positive integer',
      'chains.BSC.chainId: found "56", expected a positive integer',
      'chains.BSC.tokens.USDT.decimals: found 256, expected an integer from 0 to 255',
      'chains.bnb.maxFeeGwei: found 0, expected a whole number of gwei from 1',
      'chains.bnb.tokens.USDT.decimals: found 256, expected an integer from 0 to 255',
      'chains.BNB: found "BNB", expected a chain name different from bnb (names match in any case)',
      'chains.BNB.maxFeeGwei: found 0, expected a whole number of gwei from 1',
      'chains.BNB.tokens.USDT.decimals: found 256, expected an integer from 0 to 255',
    ]);
  });
});
