import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestChain, type TestChain } from './helpers/chain.js';
import { type CliResult, ROOT, runCli } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'm2p-wallet-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** anvil's first development account. */
const ANVIL_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const ANVIL_ADDRESS = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266';
const MASTER = randomBytes(32).toString('hex');
const ADDRESS_LINE = /^0x[0-9a-f]{40}\n$/;

const queue = (name: string) => ({ queue: name, exchange: 'pay.exchange', routing: [`${name}.key`] });
// Anvils started by a test, stopped at the end.
const chains: TestChain[] = [];
afterAll(async () => {
  await Promise.all(chains.map((c) => c.stop()));
});

/** An entry of the config's `chains` with one 18-decimal USDT. */
function chainEntry(rpcUrl: string, chainId: number, native: string, token: string) {
  return {
    rpcUrl,
    wsUrl: rpcUrl.replace(/^http/, 'ws'),
    chainId,
    confirmHeight: 15,
    native: { symbol: native, decimals: 18 },
    tokens: { USDT: { address: token, decimals: 18 } },
  };
}

/** A local port nothing listens on (taken from the OS, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function writeConfig(
  name: string,
  dbFile: string,
  more: { eth?: Record<string, unknown>; chains?: Record<string, unknown> } = {},
): string {
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
      ...more.eth,
    },
    ...(more.chains ? { chains: more.chains } : {}),
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

  it("lists each wallet's balances on every configured chain, exact; a chain whose node is down shows its error alone", async () => {
    const eth = await createTestChain({ noMining: false });
    const bsc = await createTestChain({ noMining: false, chainId: 31_341 });
    chains.push(eth, bsc);
    await eth.deployToken(6);
    await bsc.deployToken(18);
    await eth.mint(ANVIL_ADDRESS, 1_234_567n);
    await bsc.mint(created as `0x${string}`, 2n * 10n ** 18n + 1n);
    await bsc.setEthBalance(created as `0x${string}`, 5n * 10n ** 17n);
    // After the deployments, whose gas account 0 paid.
    await eth.setEthBalance(ANVIL_ADDRESS, 10n ** 18n + 7n);
    await bsc.setEthBalance(ANVIL_ADDRESS, 3n * 10n ** 18n);
    const down = await closedPort();
    const multi = writeConfig('multi.json', 'payment.sqlite', {
      eth: {
        rpcUrl: eth.anvil.rpcUrl,
        wsUrl: eth.anvil.wsUrl,
        tokens: { USDT: { address: eth.token, decimals: 6 } },
      },
      chains: {
        BSC: chainEntry(bsc.anvil.rpcUrl, bsc.anvil.chainId, 'BNB', bsc.token),
        // No node listens there.
        POLYGON: chainEntry(`http://127.0.0.1:${down}/v3/secret-key`, 137, 'POL', `0x${'1'.repeat(40)}`),
      },
    });

    const result = await wallet(['list', '--balances', '--config', multi]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');
    const blocks = result.stdout.trim().split(/\n(?=0x)/);
    const byAddress = new Map(blocks.map((b) => [b.split('\n')[0], b.split('\n').slice(1)]));
    expect([...byAddress.keys()].sort()).toEqual([ANVIL_ADDRESS, created].sort());
    // Each wallet: one line per chain, the native coin first, then the token, in their decimals.
    expect(byAddress.get(ANVIL_ADDRESS)?.slice(0, 2)).toEqual([
      '  ETH:     1.000000000000000007 ETH, 1.234567 USDT',
      '  BSC:     3 BNB, 0 USDT',
    ]);
    expect(byAddress.get(created)?.slice(0, 2)).toEqual([
      '  ETH:     0 ETH, 0 USDT',
      '  BSC:     0.5 BNB, 2.000000000000000001 USDT',
    ]);
    for (const lines of byAddress.values()) {
      expect(lines).toHaveLength(3);
      expect(lines[2]).toMatch(
        new RegExp(`^ {2}POLYGON: error: node http://127\\.0\\.0\\.1:${down}/\\[redacted\\]: .+`),
      );
      // Only the scheme and host of the node's URL show: a provider's key in its path never does.
      expect(lines[2]).not.toContain('secret-key');
    }

    // Every node answering: exit 0, and without --balances the list is addresses only, as before.
    const ok = writeConfig('multi-ok.json', 'payment.sqlite', {
      eth: {
        rpcUrl: eth.anvil.rpcUrl,
        wsUrl: eth.anvil.wsUrl,
        tokens: { USDT: { address: eth.token, decimals: 6 } },
      },
      chains: { BSC: chainEntry(bsc.anvil.rpcUrl, bsc.anvil.chainId, 'BNB', bsc.token) },
    });
    const good = await wallet(['list', '--balances', '--config', ok]);
    expect(good.code).toBe(0);
    expect(good.stdout.split('\n').filter((l) => l.includes('error'))).toEqual([]);
    const plain = await wallet(['list', '--config', ok]);
    expect(plain.stdout.trim().split('\n').sort()).toEqual([ANVIL_ADDRESS, created].sort());

    // A node on another chain than configured: its balances would mislead, so they are not shown.
    const wrong = writeConfig('wrong.json', 'payment.sqlite', {
      eth: {
        rpcUrl: eth.anvil.rpcUrl,
        wsUrl: eth.anvil.wsUrl,
        tokens: { USDT: { address: eth.token, decimals: 6 } },
      },
      chains: { BSC: chainEntry(eth.anvil.rpcUrl, bsc.anvil.chainId, 'BNB', bsc.token) },
    });
    const mismatch = await wallet(['list', '--balances', '--config', wrong]);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stdout).toContain(
      `BSC: error: the node is on chain ${eth.anvil.chainId}, not the configured 31341`,
    );
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
