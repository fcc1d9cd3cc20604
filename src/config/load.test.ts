import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { loadConfig } from './load.js';

const dir = mkdtempSync(join(tmpdir(), 'm2pool-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const queue = (name: string) => ({ queue: name, exchange: 'x', routing: [`${name}.key`] });
const valid = {
  rmq_config: {
    sub_addr: 'amqps://h',
    pay: queue('p'),
    topup: queue('t'),
    withdraw: queue('w'),
    pay_resp: queue('pr'),
    topup_resp: queue('tr'),
    withdraw_resp: queue('wr'),
  },
  eth_config: {
    rpcUrl: 'https://node',
    wsUrl: 'wss://node',
    confirmHeight: 3,
    dbConfig: { driver: 'sqlite', file: 'pay.db' },
  },
};

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('did not throw');
}

describe('loadConfig', () => {
  it('loads the file named by path, else CONFIG_PATH', () => {
    const path = join(dir, 'config.json');
    writeFileSync(path, JSON.stringify(valid));
    expect(loadConfig({ path, env: {} }).chain.confirmHeight).toBe(3);
    expect(loadConfig({ env: { CONFIG_PATH: path } }).db).toEqual({ driver: 'sqlite', file: 'pay.db' });
  });

  it('turns a missing file or bad JSON into one clear line', () => {
    const missing = join(dir, 'nope.json');
    expect(errorOf(() => loadConfig({ path: missing, env: {} })).problems).toEqual([
      `config file ${missing}: not found`,
    ]);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"rmq_config":');
    const problems = errorOf(() => loadConfig({ path: bad, env: {} })).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^config file ${bad}: not valid JSON \\(.+\\)$`));
    expect(errorOf(() => loadConfig({ path: dir, env: {} })).problems[0]).toBe(
      `config file ${dir}: cannot be read (EISDIR)`,
    );
  });

  it('passes validation problems through', () => {
    const path = join(dir, 'invalid.json');
    writeFileSync(path, JSON.stringify({ ...valid, sign_window_s: 'day' }));
    expect(errorOf(() => loadConfig({ path, env: {} })).problems).toEqual([
      'sign_window_s: found "day", expected a non-negative number of seconds',
    ]);
  });
});
