import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Address } from 'viem';
import { english, generateMnemonic } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type DatabaseHandle } from '../src/store/db.js';
import { migrateToLatest } from '../src/store/migrate.js';
import { issueAddress } from '../src/treasury/issue.js';
import { parseMasterKey } from '../src/vault/master-key.js';
import { createVault } from '../src/vault/vault.js';
import { createTestChain, type TestChain } from './helpers/chain.js';
import { runCli } from './helpers/cli.js';
import { createTestDatabase, type DbKind, dbKinds, type TestDatabase } from './helpers/db.js';
import { payoutRow } from './helpers/payouts.js';

/**
 * `m2pool-payment sweep --dry-run` on a real anvil and database: issued addresses with balances, payouts in
 * flight from some of them; the plan lists exactly the issued wallets whose spare balance reaches the
 * threshold, with exact amounts (dust left), tops up only those without gas, and skips the round while
 * the fee is above the cap. Nothing is sent.
 */

const MASTER = randomBytes(32).toString('hex');
const USDT = (units: string) => BigInt(units.replace('.', ''));
const dir = mkdtempSync(join(tmpdir(), 'm2p-sweep-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const queue = (name: string) => ({ queue: name, exchange: 'sw.exchange', routing: [`${name}.key`] });

function writeConfig(name: string, db: TestDatabase['config'], chain: TestChain, sweep: object): string {
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
      pay: queue('sw.pay'),
      topup: queue('sw.topup'),
      withdraw: queue('sw.withdraw'),
      pay_resp: queue('sw.pay.resp'),
      topup_resp: queue('sw.topup.resp'),
      withdraw_resp: queue('sw.withdraw.resp'),
    },
    eth_config: {
      rpcUrl: chain.anvil.rpcUrl,
      wsUrl: chain.anvil.wsUrl,
      chainId: chain.anvil.chainId,
      confirmHeight: 2,
      dbConfig,
      tokens: { USDT: { address: chain.token, decimals: 6 } },
      collectionAddress: chain.accounts[1]!.address,
      sweep,
    },
  };
  writeFileSync(path, JSON.stringify(config));
  return path;
}

describe.each(dbKinds)('sweep --dry-run on %s', (kind: DbKind) => {
  let chain: TestChain;
  let db: TestDatabase;
  let handle: DatabaseHandle;
  let config: string;
  let vault: ReturnType<typeof createVault>;
  const issued: Address[] = [];
  const sweep = (args: string[]) =>
    runCli(['sweep', ...args], { env: { PAYMENT_MASTER_KEY: MASTER, CONFIG_PATH: '' } });

  beforeAll(async () => {
    chain = await createTestChain();
    await chain.deployToken(6);
    db = await createTestDatabase(kind);
    handle = await createDatabase(db.config);
    await migrateToLatest(handle.db);
    vault = createVault({ db: handle.db, masterKey: parseMasterKey(MASTER) });
    await vault.initHd(generateMnemonic(english, 256));
    for (const user of ['u0', 'u1', 'u2', 'u3']) {
      issued.push((await issueAddress(handle.db, { config: { chains: [] }, vault }, user)).address);
    }
    const [u0, u1, u2, u3] = issued as [Address, Address, Address, Address];
    await chain.mint(u0, USDT('123.456789'));
    await chain.mint(u1, USDT('50.000000')); // exactly the threshold
    await chain.mint(u2, USDT('49.999999')); // just under it
    await chain.mint(u3, USDT('80.000000')); // but a withdrawal from it is in flight
    await chain.mint(chain.accounts[2]!.address, USDT('1000.000000')); // not an issued address
    await chain.setEthBalance(u1, 10n ** 18n); // pays its own gas
    await chain.mine(1);
    const token = chain.token.toLowerCase();
    const head = Number(await chain.blockNumber());
    await handle.db
      .insertInto('payouts')
      .values([
        // Not yet signed: counted against its from_address.
        payoutRow('p-u3', { token_address: token, from_address: u3.toLowerCase(), amount_raw: '30000001' }),
        // Mined at or before the block read (the newest confirmed one: confirmHeight 2, so the head less 1):
        // the balance already shows it, it is not taken twice.
        payoutRow('p-u0', {
          token_address: token,
          from_address: u0.toLowerCase(),
          sender: u0.toLowerCase(),
          state: 'mined',
          nonce: 0,
          gas_limit: '60000',
          mined_block: head - 1,
          amount_raw: '100000000',
        }),
        // Asked from u1 but paid by the collection wallet: takes nothing from u1.
        payoutRow('p-u1', {
          token_address: token,
          from_address: u1.toLowerCase(),
          sender: chain.accounts[1]!.address.toLowerCase(),
          state: 'signed',
          nonce: 0,
          gas_limit: '60000',
          amount_raw: '1000000',
        }),
      ])
      .execute();
    config = writeConfig(`config-${kind}.json`, db.config, chain, {
      minAmount: { USDT: '50' },
      keepDust: { USDT: '0.000001' },
      maxFeeGwei: 30,
    });
  });

  afterAll(async () => {
    await handle?.close();
    await db?.cleanup();
    await chain?.stop();
  });

  it('lists exactly the issued wallets at or above the threshold, with exact amounts and top-ups', async () => {
    const gasWallet = chain.accounts[1]!.address.toLowerCase();
    // The gas wallet (the collection wallet) must be one the vault can sign for.
    const keyless = await sweep(['--dry-run', '--config', config]);
    expect(keyless.stdout.trim().split('\n').at(-1)).toMatch(
      new RegExp(`^  gas wallet ${gasWallet}: .*: CANNOT fund the round: the vault holds no key for it$`),
    );
    await vault.importKey(chain.accounts[1]!.privateKey);
    const result = await sweep(['--dry-run', '--config', config]);
    expect(result.stderr).toBe('');
    expect(result.code, result.stdout).toBe(0);
    const lines = result.stdout.trim().split('\n');
    const [u0, u1] = issued.map((a) => a.toLowerCase());
    expect(lines.filter((l) => l.startsWith('  wallet '))).toEqual([
      `  wallet 0 ${u0} (user u0)`,
      `  wallet 1 ${u1} (user u1)`,
    ]);
    const sweeps = lines.filter((l) => l.startsWith('    sweep '));
    expect(sweeps).toHaveLength(2);
    expect(sweeps[0]).toMatch(
      /^ {4}sweep 123\.456788 USDT \(spare 123\.456789\), gas limit \d+ \(estimated\)$/,
    );
    expect(sweeps[1]).toMatch(/^ {4}sweep 49\.999999 USDT \(spare 50\), gas limit \d+ \(estimated\)$/);
    const gas = lines.filter((l) => l.startsWith('    gas at most '));
    // u0 has no native coin: topped up with exactly its sweep's gas; u1 pays its own.
    const [, cost0, top0] = /gas at most (\S+) ETH, own 0 ETH, top-up (\S+) ETH/.exec(gas[0] ?? '') ?? [];
    expect(cost0).toBeDefined();
    expect(top0).toBe(cost0);
    expect(gas[1]).toMatch(/own 1 ETH, top-up 0 ETH$/);
    expect(lines).toContainEqual(
      expect.stringMatching(/^ {2}total: 2 wallet\(s\), 173\.456787 USDT; .*top-ups 1, /),
    );
    expect(lines.at(-1)).toMatch(
      new RegExp(
        `^  gas wallet ${chain.accounts[1]!.address.toLowerCase()}: spare \\S+ ETH, needs \\S+ ETH: can fund the round$`,
      ),
    );
    // Nothing was sent.
    expect(await chain.publicClient.getTransactionCount({ address: chain.accounts[1]!.address })).toBe(0);
  });

  it('skips the round while the fee now is above maxFeeGwei, and sends nothing without --dry-run', async () => {
    await chain.testClient.setNextBlockBaseFeePerGas({ baseFeePerGas: 50n * 10n ** 9n });
    await chain.mine(1);
    const result = await sweep(['--dry-run', '--chain', 'eth', '--config', config]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^ {2}skipped: the fee now, 5\d(\.\d+)? gwei, is above maxFeeGwei 30: round skipped$/m,
    );
    expect(result.stdout).not.toContain('  wallet ');

    const send = await sweep(['--config', config]);
    expect(send.code).toBe(2);
    expect(send.stderr).toContain('the running service sweeps every intervalSeconds');
    const unknown = await sweep(['--dry-run', '--chain', 'BSC', '--config', config]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('error: no chain BSC in the config (ETH)\n');
  });
});
