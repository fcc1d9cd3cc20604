import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliResult, ROOT, runCli } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'm2p-wallet-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** anvil's first development account. */
const ANVIL_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const ANVIL_ADDRESS = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266';
const MASTER = randomBytes(32).toString('hex');
const ADDRESS_LINE = /^0x[0-9a-f]{40}\n$/;

const queue = (name: string) => ({ queue: name, exchange: 'pay.exchange', routing: [`${name}.key`] });
function writeConfig(name: string, dbFile: string): string {
  const path = join(dir, name);
  const config = {
    rmq_config: {
      sub_addr: 'amqp://guest:guest@127.0.0.1:5672',
      pay: queue('w.pay'),
      topup: queue('w.topup'),
      withdraw: queue('w.withdraw'),
      pay_resp: queue('w.pay.resp'),
      topup_resp: queue('w.topup.resp'),
      withdraw_resp: queue('w.withdraw.resp'),
    },
    eth_config: {
      rpcUrl: 'http://127.0.0.1:8545',
      wsUrl: 'ws://127.0.0.1:8546',
      confirmHeight: 20,
      dbConfig: { driver: 'sqlite', file: join(dir, dbFile) },
    },
  };
  writeFileSync(path, JSON.stringify(config));
  return path;
}

// Every output of every run, to check at the end that no key ever appeared in one.
const outputs: CliResult[] = [];
async function wallet(
  args: string[],
  options: { stdin?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CliResult> {
  const env = { PAYMENT_MASTER_KEY: MASTER, CONFIG_PATH: '', ...options.env };
  const result = await runCli(['wallet', ...args], { ...options, env });
  outputs.push(result);
  return result;
}

describe('m2pool-payment wallet', () => {
  const config = writeConfig('config.json', 'payment.sqlite');
  let created = '';

  it('lists nothing on a fresh database (migrated first)', async () => {
    const result = await wallet(['list', '--config', config]);
    expect(result).toMatchObject({ code: 0, stdout: '' });
  });

  it('imports a key from standard input and prints only its address', async () => {
    const result = await wallet(['import', '--config', config], { stdin: `  ${ANVIL_KEY}\n` });
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ code: 0, stdout: `${ANVIL_ADDRESS}\n` });
    // Again, without 0x: the same address, still one row.
    const again = await wallet(['import', '--config', config], { stdin: ANVIL_KEY.slice(2) });
    expect(again).toMatchObject({ code: 0, stdout: `${ANVIL_ADDRESS}\n` });
  });

  it('creates a key and prints only its address', async () => {
    const result = await wallet(['new', `--config=${config}`]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(ADDRESS_LINE);
    created = result.stdout.trim();
  });

  it('lists the addresses, one a line', async () => {
    const result = await wallet(['list', '--config', config]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n').sort()).toEqual([ANVIL_ADDRESS, created].sort());
  });

  it('refuses to run without PAYMENT_MASTER_KEY, or with a malformed one', async () => {
    const missing = await wallet(['new', '--config', config], { env: { PAYMENT_MASTER_KEY: '' } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: PAYMENT_MASTER_KEY is not set: .*\n$/);
    const malformed = await wallet(['import', '--config', config], {
      env: { PAYMENT_MASTER_KEY: 'not-a-key' },
      stdin: ANVIL_KEY,
    });
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(
      /^error: PAYMENT_MASTER_KEY is not valid: expected 64 hex characters.*\n$/,
    );
    expect(malformed.stderr).not.toContain('not-a-key');
  });

  it('refuses a master key the vault was not written with, and stores nothing', async () => {
    const other = randomBytes(32).toString('hex');
    const imported = await wallet(['import', '--config', config], {
      env: { PAYMENT_MASTER_KEY: other },
      stdin: randomBytes(32).toString('hex'),
    });
    expect(imported.code).toBe(2);
    expect(imported.stdout).toBe('');
    expect(imported.stderr).toMatch(
      /^error: PAYMENT_MASTER_KEY does not decrypt the key of 0x[0-9a-f]{40}: .*\n$/,
    );
    const made = await wallet(['new', '--config', config], { env: { PAYMENT_MASTER_KEY: other } });
    expect(made.code).toBe(2);
    const list = await wallet(['list', '--config', config]);
    expect(list.stdout.trim().split('\n')).toHaveLength(2);
  });

  it('refuses what is not one private key, without echoing it', async () => {
    const inputs = ['', 'hello', `${ANVIL_KEY}\n${ANVIL_KEY}`, `0x${'0'.repeat(64)}`];
    for (const stdin of inputs) {
      const result = await wallet(['import', '--config', config], { stdin });
      expect(result.code, stdin).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^error: (no private key|not a (valid secp256k1 )?private key).*\n$/);
      if (stdin.length > 0) expect(result.stderr).not.toContain(stdin.trim());
    }
  });

  it('reports config problems as start does', async () => {
    const missing = await wallet(['list', '--config', join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /error: the configuration is not valid:\n {2}config file .*nope\.json: not found/,
    );
  });

  it('without a config file, uses the devnet under ./data (its database and master key)', async () => {
    const cwd = join(dir, 'devnet-cwd');
    mkdirSync(join(cwd, 'data'), { recursive: true });
    // The CLI runs from source through tsx, resolved from the working directory.
    symlinkSync(join(ROOT, 'node_modules'), join(cwd, 'node_modules'));
    const none = await wallet(['list'], { cwd });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^error: no config file .* and no devnet under \.\/data\n$/);

    const devnetMaster = randomBytes(32).toString('hex');
    writeFileSync(
      join(cwd, 'data', 'devnet.json'),
      JSON.stringify({ signKey: 's', masterKey: devnetMaster }),
    );
    // PAYMENT_MASTER_KEY is not the devnet's: the devnet's own key is used.
    const imported = await wallet(['import'], { cwd, stdin: ANVIL_KEY, env: { PAYMENT_MASTER_KEY: '' } });
    expect(imported).toMatchObject({ code: 0, stdout: `${ANVIL_ADDRESS}\n` });
    expect(existsSync(join(cwd, 'data', 'payment.sqlite'))).toBe(true);
    const made = await wallet(['new'], { cwd });
    expect(made.stdout).toMatch(ADDRESS_LINE);
    const list = await wallet(['list'], { cwd });
    expect(list.stdout.trim().split('\n').sort()).toEqual([ANVIL_ADDRESS, made.stdout.trim()].sort());
  });

  it('never printed a private key', () => {
    expect(outputs.length).toBeGreaterThan(10);
    const all = outputs
      .map((o) => o.stdout + o.stderr)
      .join('\n')
      .toLowerCase();
    expect(all).not.toContain(ANVIL_KEY.slice(2));
    expect(all).not.toContain(MASTER);
  });
});
