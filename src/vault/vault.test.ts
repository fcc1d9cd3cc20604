import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseTransaction, recoverTransactionAddress, type TransactionSerializable } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbKinds, type OpenTestDatabase, openTestDatabase } from '../../test/helpers/db.js';
import { PaymentError } from '../internal/errors.js';
import { parseMasterKey } from './master-key.js';
import { createVault, type Vault } from './vault.js';

/** anvil's first development account. */
const ANVIL_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const ANVIL_ADDRESS = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266';
const SECOND_KEY = '59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';
const SECOND_ADDRESS = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';
const SECP256K1_N = 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141';

const transactions: Record<string, TransactionSerializable> = {
  eip1559: {
    type: 'eip1559',
    chainId: 31337,
    nonce: 7,
    to: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
    data: '0xa9059cbb0000000000000000000000003c44cdddb6a900fa2b585dd299e03d12fa4293bc00000000000000000000000000000000000000000000000000000000000f4240',
    gas: 60_000n,
    maxFeePerGas: 30_000_000_000n,
    maxPriorityFeePerGas: 1_000_000_000n,
    value: 0n,
  },
  'legacy (EIP-155)': {
    type: 'legacy',
    chainId: 1,
    nonce: 0,
    to: '0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc',
    gas: 21_000n,
    gasPrice: 20_000_000_000n,
    value: 10n ** 15n,
  },
  'legacy (no chain id)': {
    type: 'legacy',
    nonce: 3,
    to: '0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc',
    gas: 21_000n,
    gasPrice: 1_000_000_000n,
    value: 1n,
  },
};

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    return err instanceof PaymentError ? err.code : `not a PaymentError: ${String(err)}`;
  }
  return undefined;
}

describe.each(dbKinds)('vault on %s', (kind) => {
  let test: OpenTestDatabase;
  let vault: Vault;
  const masterKey = parseMasterKey(randomBytes(32).toString('hex'));

  beforeAll(async () => {
    test = await openTestDatabase(kind);
    vault = createVault({ db: test.handle.db, masterKey });
  });
  afterAll(async () => {
    await test?.cleanup();
  });

  it('imports a key (with or without 0x, idempotently) and gives its lowercase address', async () => {
    expect(await vault.verifyMasterKey()).toBeUndefined(); // nothing stored: nothing to check
    expect(await vault.has(ANVIL_ADDRESS)).toBe(false);
    expect(await vault.importKey(`${ANVIL_KEY}\n`)).toBe(ANVIL_ADDRESS);
    expect(await vault.importKey(ANVIL_KEY.slice(2).toUpperCase())).toBe(ANVIL_ADDRESS);
    expect(await vault.importKey(SECOND_KEY)).toBe(SECOND_ADDRESS);
    expect((await vault.list()).sort()).toEqual([ANVIL_ADDRESS, SECOND_ADDRESS].sort());
    expect(await vault.has(ANVIL_ADDRESS)).toBe(true);
    expect(await vault.has(ANVIL_ADDRESS.toUpperCase().replace('0X', '0x'))).toBe(true);
  });

  it('refuses what is not a secp256k1 private key, without echoing it', async () => {
    for (const bad of [
      '',
      ANVIL_KEY.slice(0, 64),
      `${ANVIL_KEY}00`,
      `${ANVIL_KEY.slice(0, 65)}z`,
      '0'.repeat(64),
      SECP256K1_N,
    ]) {
      const err = await vault.importKey(bad).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PaymentError);
      expect((err as PaymentError).code).toBe('private_key_invalid');
      if (bad.length > 8) expect((err as PaymentError).message).not.toContain(bad.slice(2, 12));
    }
  });

  it('creates keys, which `has` and `list` see', async () => {
    const address = await vault.newKey();
    expect(address).toMatch(/^0x[0-9a-f]{40}$/);
    expect(await vault.has(address)).toBe(true);
    expect(await vault.list()).toContain(address);
    expect(await vault.newKey()).not.toBe(address);
  });

  it('finds a key another process added after the first lookup', async () => {
    const other = createVault({ db: test.handle.db, masterKey });
    const address = await vault.newKey();
    expect(await other.has(address)).toBe(true);
    expect(await other.has('0x0000000000000000000000000000000000000001')).toBe(false);
  });

  it.each(Object.keys(transactions))('signs a %s transaction exactly as viem does', async (name) => {
    const tx = transactions[name]!;
    const signed = await vault.signTransaction(ANVIL_ADDRESS, tx);
    expect(signed).toBe(await privateKeyToAccount(ANVIL_KEY).signTransaction(tx));
    expect((await recoverTransactionAddress({ serializedTransaction: signed as never })).toLowerCase()).toBe(
      ANVIL_ADDRESS,
    );
    expect(parseTransaction(signed).nonce).toBe(tx.nonce);
  });

  it('refuses to sign for an address it has no key of', async () => {
    expect(
      await codeOf(
        vault.signTransaction('0x0000000000000000000000000000000000000001', transactions.eip1559!),
      ),
    ).toBe('wallet_unknown');
  });

  it('stores no plaintext key', async () => {
    const rows = await test.handle.db.selectFrom('wallets').selectAll().execute();
    expect(rows.length).toBeGreaterThanOrEqual(2);
    const text = JSON.stringify(rows).toLowerCase();
    for (const key of [ANVIL_KEY.slice(2), SECOND_KEY]) expect(text).not.toContain(key);
    for (const row of rows) expect(row.encrypted_key).toMatch(/^v1:[0-9a-f]{24}:[0-9a-f]{64}:[0-9a-f]{32}$/);
    if (test.config.driver === 'sqlite') {
      // The file itself (and its write-ahead log): neither the hex nor the raw bytes of a key.
      const files = [test.config.file, `${test.config.file}-wal`].filter((f) => existsSync(f));
      const bytes = Buffer.concat(files.map((f) => readFileSync(f)));
      for (const key of [ANVIL_KEY.slice(2), SECOND_KEY]) {
        expect(bytes.includes(Buffer.from(key, 'ascii'))).toBe(false);
        expect(bytes.includes(Buffer.from(key.toUpperCase(), 'ascii'))).toBe(false);
        expect(bytes.includes(Buffer.from(key, 'hex'))).toBe(false);
      }
    }
  });

  it('refuses a wrong master key at verifyMasterKey, and before writing anything', async () => {
    const wrong = createVault({
      db: test.handle.db,
      masterKey: parseMasterKey(randomBytes(32).toString('hex')),
    });
    const before = await vault.list();
    expect(await codeOf(wrong.verifyMasterKey())).toBe('master_key_wrong');
    expect(await codeOf(wrong.newKey())).toBe('master_key_wrong');
    expect(await codeOf(wrong.importKey(randomBytes(32).toString('hex')))).toBe('master_key_wrong');
    expect(await codeOf(wrong.signTransaction(ANVIL_ADDRESS, transactions.eip1559!))).toBe(
      'master_key_wrong',
    );
    expect(await vault.list()).toEqual(before);
  });

  it('does not sign with a row moved onto another address', async () => {
    const db = test.handle.db;
    const row = await db
      .selectFrom('wallets')
      .select('encrypted_key')
      .where('address', '=', SECOND_ADDRESS)
      .executeTakeFirstOrThrow();
    const saved = await db
      .selectFrom('wallets')
      .select('encrypted_key')
      .where('address', '=', ANVIL_ADDRESS)
      .executeTakeFirstOrThrow();
    await db
      .updateTable('wallets')
      .set({ encrypted_key: row.encrypted_key })
      .where('address', '=', ANVIL_ADDRESS)
      .execute();
    // A fresh vault: `vault` may hold the row it already read.
    const fresh = createVault({ db, masterKey });
    try {
      expect(await codeOf(fresh.signTransaction(ANVIL_ADDRESS, transactions.eip1559!))).toBe(
        'master_key_wrong',
      );
    } finally {
      await db.updateTable('wallets').set(saved).where('address', '=', ANVIL_ADDRESS).execute();
    }
    const restored = createVault({ db, masterKey });
    expect(await codeOf(restored.signTransaction(ANVIL_ADDRESS, transactions.eip1559!))).toBeUndefined();
  });
});
