import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type OpenTestDatabase, openTestDatabase } from '../../test/helpers/db.js';
import { parseMasterKey } from './master-key.js';
import { createVault } from './vault.js';

// Keeps every buffer the vault decrypts a key into, to look at it after the vault is done with it.
const decrypted: Uint8Array[] = [];
vi.mock('./crypto.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('./crypto.js')>();
  return {
    ...actual,
    decryptPrivateKey: (...args: Parameters<typeof actual.decryptPrivateKey>) => {
      const bytes = actual.decryptPrivateKey(...args);
      decrypted.push(bytes);
      return bytes;
    },
  };
});

// Makes the next signature fail, after the key is decrypted: the finally must still wipe it.
let failNextSign = false;
vi.mock('@noble/curves/secp256k1', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@noble/curves/secp256k1')>();
  const sign: typeof actual.secp256k1.sign = (...args) => {
    if (failNextSign) {
      failNextSign = false;
      throw new Error('signer failed');
    }
    return actual.secp256k1.sign(...args);
  };
  return { ...actual, secp256k1: { ...actual.secp256k1, sign } };
});

const KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const ADDRESS = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266';
const tx = {
  type: 'eip1559',
  chainId: 1,
  nonce: 0,
  to: ADDRESS,
  gas: 21_000n,
  maxFeePerGas: 2n,
  maxPriorityFeePerGas: 1n,
} as const;

describe('the decrypted key', () => {
  let test: OpenTestDatabase;
  beforeAll(async () => {
    test = await openTestDatabase('sqlite');
  });
  afterAll(async () => {
    await test?.cleanup();
  });

  it('is zeroed after verifying, signing, re-importing, and when signing throws', async () => {
    const vault = createVault({
      db: test.handle.db,
      masterKey: parseMasterKey(randomBytes(32).toString('hex')),
    });
    await vault.importKey(KEY);
    await vault.verifyMasterKey();
    await vault.signTransaction(ADDRESS, tx);
    await vault.importKey(KEY); // already stored: decrypts the row to check it
    failNextSign = true;
    await expect(vault.signTransaction(ADDRESS, tx)).rejects.toThrow('signer failed');
    expect(decrypted).toHaveLength(4);
    for (const bytes of decrypted) {
      expect(bytes).toHaveLength(32);
      expect(bytes.every((b) => b === 0)).toBe(true);
    }
  });
});
