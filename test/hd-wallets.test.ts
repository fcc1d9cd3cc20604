import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mnemonicToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type DatabaseHandle } from '../src/store/db.js';
import { type CliResult, runCli } from './helpers/cli.js';
import { createTestDatabase, type DbKind, dbKinds, type TestDatabase } from './helpers/db.js';

/**
 * `m2pool-payment wallet init-hd [--import]` and `wallet derive --user REF` against a config file, on
 * both databases: the mnemonic printed once and stored nowhere in clear, a second init-hd changing
 * nothing, the same address for the same user every time.
 */

const MASTER = randomBytes(32).toString('hex');
const ANVIL = 'test test test test test test test test test test test junk';
const ANVIL_0 = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266';
const dir = mkdtempSync(join(tmpdir(), 'm2p-hd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const queue = (name: string) => ({ queue: name, exchange: 'hd.exchange', routing: [`${name}.key`] });

function writeConfig(name: string, db: TestDatabase['config']): string {
  const path = join(dir, name);
  const dbConfig =
    db.driver === 'sqlite'
      ? { driver: 'sqlite', file: db.file }
      : {
          driver: 'mysql',
          host: db.host,
          port: db.port,
          user: db.user,
          password: db.password,
          database: db.database,
        };
  const config = {
    rmq_config: {
      sub_addr: 'amqp://guest:guest@127.0.0.1:5672',
      pay: queue('h.pay'),
      topup: queue('h.topup'),
      withdraw: queue('h.withdraw'),
      pay_resp: queue('h.pay.resp'),
      topup_resp: queue('h.topup.resp'),
      withdraw_resp: queue('h.withdraw.resp'),
    },
    eth_config: {
      rpcUrl: 'http://127.0.0.1:8545',
      wsUrl: 'ws://127.0.0.1:8546',
      confirmHeight: 20,
      dbConfig,
      token: { USDT: { address: `0x${'ab'.repeat(20)}`, decimals: 6 } },
    },
  };
  writeFileSync(path, JSON.stringify(config));
  return path;
}

describe.each(dbKinds)('wallet init-hd and derive on %s', (kind: DbKind) => {
  let db: TestDatabase;
  let config: string;
  let handle: DatabaseHandle;
  const outputs: CliResult[] = [];
  const wallet = async (args: string[], stdin?: string) => {
    const env = { PAYMENT_MASTER_KEY: MASTER, CONFIG_PATH: '' };
    const result = await runCli(['wallet', ...args, '--config', config], { env, stdin });
    outputs.push(result);
    return result;
  };
  const roots = () => handle.db.selectFrom('hd_roots').selectAll().execute();
  let mnemonic = '';

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    config = writeConfig(`config-${kind}.json`, db.config);
  });

  afterAll(async () => {
    await handle?.close();
    await db?.cleanup();
  });

  it('creates the HD root once and prints its 24-word mnemonic once', async () => {
    const first = await wallet(['init-hd']);
    expect(first.code).toBe(0);
    mnemonic = first.stdout.trim();
    expect(mnemonic.split(' ')).toHaveLength(24);
    expect(first.stderr).toMatch(/HD root created \(address 0 is 0x[0-9a-f]{40}\)/);
    handle = await createDatabase(db.config);
    const stored = await roots();
    expect(stored).toHaveLength(1);
    expect(stored[0]?.first_address).toBe(
      mnemonicToAccount(mnemonic, { addressIndex: 0 }).address.toLowerCase(),
    );
  });

  it('changes nothing on a second init-hd, or an import of another mnemonic; the same one is a no-op', async () => {
    const before = await roots();
    const again = await wallet(['init-hd']);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toMatch(
      /^error: an HD root already exists \(its address 0 is 0x[0-9a-f]{40}\); nothing changed/,
    );
    const other = await wallet(['init-hd', '--import'], ANVIL);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/an HD root already exists/);
    const same = await wallet(['init-hd', '--import'], `  ${mnemonic.toUpperCase()}\n`);
    expect(same.code).toBe(0);
    expect(same.stderr).toMatch(/already the HD root/);
    expect(await roots()).toEqual(before);
    const bad = await wallet(['init-hd', '--import'], ANVIL.replace('junk', 'test'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/checksum/);
  });

  it('derives the same address for the same user, the next index for a new one, watched for every asset', async () => {
    const expected = (i: number) => mnemonicToAccount(mnemonic, { addressIndex: i }).address.toLowerCase();
    const alice = await wallet(['derive', '--user', 'alice']);
    expect(alice).toMatchObject({ code: 0, stdout: `${expected(0)} 0\n` });
    expect(await wallet(['derive', '--user', 'bob'])).toMatchObject({ stdout: `${expected(1)} 1\n` });
    expect(await wallet(['derive', '--user', 'alice'])).toMatchObject({ stdout: `${expected(0)} 0\n` });
    expect((await wallet(['derive'])).code).toBe(2);
    const watched = await handle.db
      .selectFrom('watched_addresses')
      .select(['symbol'])
      .where('address', '=', expected(1))
      .orderBy('symbol')
      .execute();
    expect(watched.map((w) => w.symbol)).toEqual(['ETH', 'USDT']);
  });

  it('keeps the mnemonic out of the database and of every output but the first', async () => {
    const tables = ['hd_roots', 'issued_addresses', 'watched_addresses', 'wallets'] as const;
    let dump = '';
    for (const table of tables)
      dump += JSON.stringify(await handle.db.selectFrom(table).selectAll().execute());
    if (db.config.driver === 'sqlite') {
      const folder = join(db.config.file, '..');
      for (const file of readdirSync(folder)) dump += readFileSync(join(folder, file)).toString('latin1');
    }
    const words = mnemonic.split(' ');
    const pieces = [mnemonic, words.slice(0, 3).join(' '), words.slice(-3).join(' ')];
    const later = outputs
      .slice(1)
      .map((o) => o.stdout + o.stderr)
      .join('\n');
    for (const piece of pieces) {
      expect(dump.includes(piece)).toBe(false);
      expect(later.toLowerCase().includes(piece)).toBe(false);
    }
  });
});

describe('wallet init-hd --import', () => {
  it("imports a mnemonic: address 0 is its m/44'/60'/0'/0/0", async () => {
    const db = await createTestDatabase('sqlite');
    const config = writeConfig('config-import.json', db.config);
    try {
      const env = { PAYMENT_MASTER_KEY: MASTER, CONFIG_PATH: '' };
      const result = await runCli(['wallet', 'init-hd', '--import', '--config', config], {
        env,
        stdin: ANVIL,
      });
      expect(result).toMatchObject({ code: 0, stdout: `${ANVIL_0}\n` });
      expect(result.stderr).toMatch(/HD root imported/);
      const derived = await runCli(['wallet', 'derive', '--user', 'x', '--config', config], { env });
      expect(derived).toMatchObject({ code: 0, stdout: `${ANVIL_0} 0\n` });
    } finally {
      await db.cleanup();
    }
  });
});
