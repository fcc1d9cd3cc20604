import { parseAlerts } from './alerts.js';
import { parseChainEntries, parseEthChain } from './chains.js';
import { type Checker, createChecker, field, given } from './check.js';
import { ConfigError } from './errors.js';
import type { Config, DbConfig, QueueConfig } from './types.js';

/**
 * v2 config.json → Config (PROTOCOL §2). v2 files must load unchanged, so v2 spellings
 * (`maxIdleCoons`, `connMaxLife`) are accepted and unknown fields are ignored; what v2 did not have
 * is optional with a default. The chains (`eth_config` and the top-level `chains`) are read in ./chains.ts.
 */

/** The chains' defaults are CHAIN_DEFAULTS in ./chains.ts. */
export const CONFIG_DEFAULTS = {
  httpAddr: '127.0.0.1:8080',
  signWindowS: 86_400,
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

/** `rmq_config` (PROTOCOL §2.3); also what the client SDK (src/client) reads its `rmq` option with. */
export function parseRmq(c: Checker, value: unknown): Config['rmq'] | undefined {
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
  const optional = parseAddressQueues(c, obj, seen);
  const { topup, withdraw, pay, topupResp, withdrawResp, payResp } = queues;
  if (!url || !topup || !withdraw || !pay || !topupResp || !withdrawResp || !payResp) return undefined;
  return { url, topup, withdraw, pay, topupResp, withdrawResp, payResp, ...optional };
}

/**
 * `rmq_config.address` / `address_resp` (new, optional): the address requests and their answers. Both
 * or neither: requests without a queue to answer on (or the reverse) would be a half-configured role.
 */
function parseAddressQueues(
  c: Checker,
  obj: Record<string, unknown>,
  seen: Map<string, string>,
): Pick<Config['rmq'], 'address' | 'addressResp'> {
  const out: Pick<Config['rmq'], 'address' | 'addressResp'> = {};
  const keys = [
    ['address', 'address'],
    ['addressResp', 'address_resp'],
  ] as const;
  for (const [name, key] of keys) {
    if (!given(obj, key)) continue;
    const queue = parseQueue(c, `rmq_config.${key}`, field(obj, key));
    if (!queue) continue;
    const other = seen.get(queue.queue);
    if (other) c.problem(`rmq_config.${key}.queue`, queue.queue, `a queue name not already used by ${other}`);
    else seen.set(queue.queue, `rmq_config.${key}`);
    out[name] = queue;
  }
  const [one, two] = [given(obj, 'address'), given(obj, 'address_resp')];
  if (one !== two) {
    const [missing, present] = one ? ['address_resp', 'address'] : ['address', 'address_resp'];
    c.problem(`rmq_config.${missing}`, undefined, `a queue object, since rmq_config.${present} is set`);
  }
  return out;
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

/** `host:port`, `[v6]:port`, or `:port` (all interfaces, as in Go). */
function parseHttp(c: Checker, value: unknown): Config['http'] | undefined {
  let addr: unknown = CONFIG_DEFAULTS.httpAddr;
  if (value !== undefined && value !== null) {
    const obj = c.object('http_config', value);
    if (!obj) return undefined;
    if (given(obj, 'addr')) addr = field(obj, 'addr');
  }
  return (
    parseHttpAddr(addr) ?? c.problem('http_config.addr', addr, `${HTTP_ADDR_FORM}, e.g. "127.0.0.1:8080"`)
  );
}

/** What an HTTP address must look like, for error lines. */
export const HTTP_ADDR_FORM = 'host:port with a port from 0 to 65535';

/**
 * An HTTP listen address as `http_config.addr` and `start --http-addr` take it: `host:port`,
 * `[v6]:port`, or `:port` (all interfaces, as in Go); undefined when it is none of these.
 */
export function parseHttpAddr(addr: unknown): Config['http'] | undefined {
  const match = typeof addr === 'string' ? /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr) : null;
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65_535) return undefined;
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
  const chain = eth ? parseEthChain(c, eth) : undefined;
  const more = parseChainEntries(c, field(root, 'chains'), chain);
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
    !more ||
    !db ||
    !http ||
    signWindowS === undefined ||
    !alerts
  ) {
    throw new ConfigError(
      c.problems.length > 0 ? c.problems : ['config: found an invalid config, expected a valid one'],
    );
  }
  return { rmq, chain, chains: [chain, ...more], db, http, signWindowS, alerts };
}
