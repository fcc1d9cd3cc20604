import { randomBytes } from 'node:crypto';
import { recoverTransactionAddress, type TransactionSerializable } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbKinds, type OpenTestDatabase, openTestDatabase } from '../../test/helpers/db.js';
import { issueAddress } from '../treasury/issue.js';
import { parseMasterKey } from './master-key.js';
import { createVault, type Vault } from './vault.js';

/** The vault's HD half on both databases: the root stored once, issued addresses signed for. */

const ANVIL = 'test test test test test test test test test test test junk';
const ANVIL_0 = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266';
const ANVIL_1 = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';
const OTHER = `${'abandon '.repeat(11)}about`;
const MASTER = randomBytes(32).toString('hex');
const chains = [
  {
    name: 'ETH',
    tokens: [{ symbol: 'USDT', addressLc: `0x${'ab'.repeat(20)}` as const, decimals: 6 }],
    native: { symbol: 'ETH', decimals: 18 },
  },
];
const tx: TransactionSerializable = {
  type: 'eip1559',
  chainId: 31337,
  nonce: 0,
  to: '0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc',
  gas: 21_000n,
  maxFeePerGas: 30_000_000_000n,
  maxPriorityFeePerGas: 1_000_000_000n,
  value: 1n,
};

describe.each(dbKinds)('HD keys in the vault on %s', (kind) => {
  let test: OpenTestDatabase;
  let vault: Vault;

  beforeAll(async () => {
    test = await openTestDatabase(kind);
    vault = createVault({ db: test.handle.db, masterKey: parseMasterKey(MASTER) });
  });
  afterAll(() => test?.cleanup());

  it('refuses to issue before a root exists', async () => {
    await expect(
      issueAddress(test.handle.db, { config: { chains: chains as never }, vault }, 'u'),
    ).rejects.toMatchObject({ code: 'hd_root_missing' });
  });

  it('stores the root once: the same mnemonic again is a no-op, another is refused', async () => {
    expect(await vault.initHd(ANVIL)).toEqual({ created: true, firstAddress: ANVIL_0 });
    const row = await test.handle.db.selectFrom('hd_roots').selectAll().executeTakeFirstOrThrow();
    expect(row.encrypted_seed).toMatch(/^v1:[0-9a-f]{24}:[0-9a-f]{128}:[0-9a-f]{32}$/);
    expect(await vault.initHd(ANVIL.toUpperCase())).toEqual({ created: false, firstAddress: ANVIL_0 });
    await expect(vault.initHd(OTHER)).rejects.toMatchObject({ code: 'hd_root_exists' });
    expect(await test.handle.db.selectFrom('hd_roots').selectAll().execute()).toEqual([row]);
  });

  it('signs for an issued address with its derived key, and holds no key for one not issued', async () => {
    const db = test.handle.db;
    const deps = { config: { chains: chains as never }, vault };
    expect(await issueAddress(db, deps, 'alice')).toEqual({ address: ANVIL_0, index: 0, created: true });
    expect(await issueAddress(db, deps, 'bob')).toEqual({ address: ANVIL_1, index: 1, created: true });
    expect(await issueAddress(db, deps, 'alice')).toEqual({ address: ANVIL_0, index: 0, created: false });
    // A fresh vault, as after a restart: it finds the issued address in the table.
    const fresh = createVault({ db, masterKey: parseMasterKey(MASTER) });
    await fresh.verifyMasterKey();
    expect(await fresh.has(ANVIL_1)).toBe(true);
    const raw = await fresh.signTransaction(ANVIL_1, tx);
    expect((await recoverTransactionAddress({ serializedTransaction: raw as never })).toLowerCase()).toBe(
      ANVIL_1,
    );
    const notIssued = '0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc';
    expect(await fresh.has(notIssued)).toBe(false);
    await expect(fresh.signTransaction(notIssued, tx)).rejects.toMatchObject({ code: 'wallet_unknown' });
  });

  it('fails the master key check when the seed does not open with it', async () => {
    const wrong = createVault({
      db: test.handle.db,
      masterKey: parseMasterKey(randomBytes(32).toString('hex')),
    });
    await expect(wrong.verifyMasterKey()).rejects.toMatchObject({ code: 'master_key_wrong' });
  });
});
