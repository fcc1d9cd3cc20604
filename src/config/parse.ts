import { toAddressLc } from '../internal/address.js';
import { parseAlerts } from './alerts.js';
import { type Checker, createChecker, field, given, type Json } from './check.js';
import { ConfigError } from './errors.js';
import type { Config, DbConfig, QueueConfig, TokenConfig } from './types.js';

/**
 * v2 config.json → Config (PROTOCOL §1). v2 files must load unchanged, so v2 spellings
 * (`maxIdleCoons`, `connMaxLife`) are accepted and unknown fields are ignored; what v2 did not have
 * is optional with a default.
 */

export const CONFIG_DEFAULTS = {
  chainName: 'ETH',
  confirmHeight: 20,
  tokens: [
    { symbol: 'USDT', addressLc: '0xdac17f958d2ee523a2206206994597c13d831ec7', decimals: 6 },
  ] as readonly TokenConfig[],
  httpAddr: '127.0.0.1:8080',
  signWindowS: 86_400,
  maxFeeGwei: 500,
  replaceAfterBlocks: 5,
  mysql: { host: '127.0.0.1', port: 3306, password: '', maxOpenConns: 20, connMaxLifeS: 120 },
} as const;

const QUEUE_KEYS = [
  ['topup', 'topup'],
  ['withdraw', 'withdraw'],
  ['pay', 'pay'],
  ['topupResp', 'topup_resp'],
  ['withdrawResp', 'withdraw_resp'],
  ['payResp', 'pay_resp'],
] as const;

const INT32_MAX = 2_147_483_647;
const ADDRESS = 'a 0x-prefixed 20-byte hex address';

function parseQueue(c: Checker, path: string, value: unknown): QueueConfig | undefined {
  const obj = c.object(path, value);
  if (!obj) return undefined;
  const queue = c.string(`${path}.queue`, field(obj, 'queue'));
  const exchange = c.string(`${path}.exchange`, field(obj, 'exchange'));
  // A single key written as a plain string is taken as a list of one.
  const rawRouting = field(obj, 'routing');
  const list = typeof rawRouting === 'string' ? [rawRouting] : rawRouting;
  let routing: string[] | undefined;
  if (!Array.isArray(list) || list.length === 0) {
    c.problem(`${path}.routing`, rawRouting, 'a non-empty list of routing keys');
  } else {
    const keys = list.map((key, i) => c.string(`${path}.routing[${i}]`, key));
    if (keys.every((key) => key !== undefined)) routing = keys as string[];
  }
  if (queue === undefined || exchange === undefined || routing === undefined) return undefined;
  return { queue, exchange, routing };
}

function parseRmq(c: Checker, value: unknown): Config['rmq'] | undefined {
  const obj = c.object('rmq_config', value);
  if (!obj) return undefined;
  const url = c.url('rmq_config.sub_addr', field(obj, 'sub_addr'), ['amqp', 'amqps']);
  const queues: Partial<Record<(typeof QUEUE_KEYS)[number][0], QueueConfig>> = {};
  const seen = new Map<string, string>();
  for (const [name, key] of QUEUE_KEYS) {
    const queue = parseQueue(c, `rmq_config.${key}`, field(obj, key));
    if (!queue) continue;
    // Two roles on one queue would hand requests to the wrong consumer (or responses to ourselves).
    const other = seen.get(queue.queue);
    if (other) c.problem(`rmq_config.${key}.queue`, queue.queue, `a queue name not already used by ${other}`);
    else seen.set(queue.queue, `rmq_config.${key}`);
    queues[name] = queue;
  }
  const { topup, withdraw, pay, topupResp, withdrawResp, payResp } = queues;
  if (!url || !topup || !withdraw || !pay || !topupResp || !withdrawResp || !payResp) return undefined;
  return { url, topup, withdraw, pay, topupResp, withdrawResp, payResp };
}

const MAX_SYMBOL_LENGTH = 16;

function parseTokens(c: Checker, value: unknown): TokenConfig[] | undefined {
  if (value === undefined || value === null) return CONFIG_DEFAULTS.tokens.map((t) => ({ ...t }));
  const obj = c.object('eth_config.tokens', value);
  if (!obj) return undefined;
  const entries = Object.entries(obj);
  if (entries.length === 0) return c.problem('eth_config.tokens', value, 'at least one token');
  const tokens: TokenConfig[] = [];
  let ok = true;
  for (const [symbol, spec] of entries) {
    const path = `eth_config.tokens.${symbol}`;
    const token = c.object(path, spec);
    if (!token) {
      ok = false;
      continue;
    }
    const rawAddress = field(token, 'address');
    const addressLc = toAddressLc(rawAddress) ?? c.problem(`${path}.address`, rawAddress, ADDRESS);
    // ERC-20 `decimals()` is a uint8.
    const decimals = c.integer(
      `${path}.decimals`,
      field(token, 'decimals'),
      0,
      255,
      'an integer from 0 to 255',
    );
    if (symbol.trim() === '') c.problem('eth_config.tokens', symbol, 'token symbols that are not empty');
    // Payouts store the symbol in a varchar(16): a longer one would fail every insert on MySQL.
    if (symbol.length > MAX_SYMBOL_LENGTH)
      c.problem(path, symbol, `a symbol of at most ${MAX_SYMBOL_LENGTH} characters (its database column)`);
    // Requests match symbols case-insensitively, so "usdt" and "USDT" would be ambiguous.
    const twin = tokens.find((t) => t.symbol.toLowerCase() === symbol.toLowerCase());
    if (twin) c.problem(path, symbol, `a symbol different from ${twin.symbol} (symbols match in any case)`);
    const sameAddress = tokens.find((t) => t.addressLc === addressLc);
    if (sameAddress)
      c.problem(`${path}.address`, rawAddress, `an address not already used by ${sameAddress.symbol}`);
    if (addressLc === undefined || decimals === undefined) ok = false;
    else tokens.push({ symbol, addressLc, decimals });
  }
  return ok ? tokens : undefined;
}

function parseDb(c: Checker, value: unknown): DbConfig | undefined {
  const path = 'eth_config.dbConfig';
  const obj = c.object(path, value);
  if (!obj) return undefined;
  const driver = given(obj, 'driver') ? field(obj, 'driver') : 'mysql';
  if (driver === 'sqlite') {
    const file = c.string(`${path}.file`, field(obj, 'file'));
    return file === undefined ? undefined : { driver: 'sqlite', file };
  }
  if (driver !== 'mysql') return c.problem(`${path}.driver`, driver, '"mysql" or "sqlite"');

  const d = CONFIG_DEFAULTS.mysql;
  const opt = <T>(key: string, fallback: T, check: (v: unknown) => T | undefined): T | undefined =>
    given(obj, key) ? check(field(obj, key)) : fallback;
  const host = opt('host', d.host, (v) => c.string(`${path}.host`, v));
  const port = opt('port', d.port, (v) => c.integer(`${path}.port`, v, 1, 65_535, 'a port from 1 to 65535'));
  const user = c.string(`${path}.user`, field(obj, 'user'));
  const password = opt('password', d.password, (v) =>
    c.string(`${path}.password`, v, { secret: true, allowEmpty: true }),
  );
  const database = c.string(`${path}.database`, field(obj, 'database'));
  const maxOpenConns = opt('maxOpenConns', d.maxOpenConns, (v) =>
    c.integer(`${path}.maxOpenConns`, v, 1, INT32_MAX, 'a positive integer'),
  );
  // v2 spells it `maxIdleCoons`; the pool sizes idle connections itself, so it is checked and ignored.
  for (const key of ['maxIdleCoons', 'maxIdleConns']) {
    if (given(obj, key)) c.integer(`${path}.${key}`, field(obj, key), 0, INT32_MAX, 'a non-negative integer');
  }
  const connMaxLifeS = opt('connMaxLife', d.connMaxLifeS, (v) =>
    c.integer(`${path}.connMaxLife`, v, 0, INT32_MAX, 'a non-negative number of seconds'),
  );
  if (
    host === undefined ||
    port === undefined ||
    user === undefined ||
    password === undefined ||
    database === undefined ||
    maxOpenConns === undefined ||
    connMaxLifeS === undefined
  ) {
    return undefined;
  }
  return { driver: 'mysql', host, port, user, password, database, maxOpenConns, connMaxLifeS };
}

function parseChain(c: Checker, obj: Json): Omit<Config['chain'], 'tokens'> | undefined {
  const rpcUrl = c.url('eth_config.rpcUrl', field(obj, 'rpcUrl'), ['http', 'https']);
  const wsUrl = c.url('eth_config.wsUrl', field(obj, 'wsUrl'), ['ws', 'wss']);
  const confirmHeight = given(obj, 'confirmHeight')
    ? c.integer('eth_config.confirmHeight', field(obj, 'confirmHeight'), 1, 1_000_000, 'a positive integer')
    : CONFIG_DEFAULTS.confirmHeight;
  const chainId = given(obj, 'chainId')
    ? c.integer('eth_config.chainId', field(obj, 'chainId'), 1, Number.MAX_SAFE_INTEGER, 'a positive integer')
    : undefined;
  const chainIdOk = !given(obj, 'chainId') || chainId !== undefined;
  // An empty string is how a v2-style file says "no collection wallet".
  const rawCollection = field(obj, 'collectionAddress');
  const hasCollection = rawCollection !== undefined && rawCollection !== null && rawCollection !== '';
  const collectionAddressLc = hasCollection
    ? (toAddressLc(rawCollection) ?? c.problem('eth_config.collectionAddress', rawCollection, ADDRESS))
    : undefined;
  // Payout fee cap and replacement delay: optional, with defaults (not in v2).
  const maxFeeGwei = given(obj, 'maxFeeGwei')
    ? c.integer(
        'eth_config.maxFeeGwei',
        field(obj, 'maxFeeGwei'),
        1,
        1_000_000,
        'a whole number of gwei from 1',
      )
    : CONFIG_DEFAULTS.maxFeeGwei;
  const replaceAfterBlocks = given(obj, 'replaceAfterBlocks')
    ? c.integer(
        'eth_config.replaceAfterBlocks',
        field(obj, 'replaceAfterBlocks'),
        1,
        10_000,
        'a positive integer',
      )
    : CONFIG_DEFAULTS.replaceAfterBlocks;
  if (!rpcUrl || !wsUrl || confirmHeight === undefined || !chainIdOk) return undefined;
  if (hasCollection && !collectionAddressLc) return undefined;
  if (maxFeeGwei === undefined || replaceAfterBlocks === undefined) return undefined;
  return {
    name: CONFIG_DEFAULTS.chainName,
    chainId,
    rpcUrl,
    wsUrl,
    confirmHeight,
    collectionAddressLc,
    maxFeePerGasWei: BigInt(maxFeeGwei) * 1_000_000_000n,
    replaceAfterBlocks,
  };
}

/** `host:port`, `[v6]:port`, or `:port` (all interfaces, as in Go). */
function parseHttp(c: Checker, value: unknown): Config['http'] | undefined {
  let addr: unknown = CONFIG_DEFAULTS.httpAddr;
  if (value !== undefined && value !== null) {
    const obj = c.object('http_config', value);
    if (!obj) return undefined;
    if (given(obj, 'addr')) addr = field(obj, 'addr');
  }
  const match = typeof addr === 'string' ? /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr) : null;
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65_535) {
    return c.problem(
      'http_config.addr',
      addr,
      'host:port with a port from 0 to 65535, e.g. "127.0.0.1:8080"',
    );
  }
  const host = match[1] ?? (match[2] === '' || match[2] === undefined ? '0.0.0.0' : match[2]);
  return { host, port };
}

/** Validates a parsed config.json; throws ConfigError listing every problem. */
export function parseConfig(json: unknown): Config {
  const c = createChecker();
  const root = c.object('config', json);
  if (!root) throw new ConfigError(c.problems);

  const rmq = parseRmq(c, field(root, 'rmq_config'));
  const eth = c.object('eth_config', field(root, 'eth_config'));
  const chain = eth ? parseChain(c, eth) : undefined;
  const tokens = eth ? parseTokens(c, field(eth, 'tokens')) : undefined;
  const db = eth ? parseDb(c, field(eth, 'dbConfig')) : undefined;
  const http = parseHttp(c, field(root, 'http_config'));
  const signWindowS = given(root, 'sign_window_s')
    ? c.integer(
        'sign_window_s',
        field(root, 'sign_window_s'),
        0,
        INT32_MAX,
        'a non-negative number of seconds',
      )
    : CONFIG_DEFAULTS.signWindowS;
  const alerts = parseAlerts(c, field(root, 'alerts'));

  if (
    c.problems.length > 0 ||
    !rmq ||
    !chain ||
    !tokens ||
    !db ||
    !http ||
    signWindowS === undefined ||
    !alerts
  ) {
    throw new ConfigError(
      c.problems.length > 0 ? c.problems : ['config: found an invalid config, expected a valid one'],
    );
  }
  return { rmq, chain: { ...chain, tokens }, db, http, signWindowS, alerts };
}
