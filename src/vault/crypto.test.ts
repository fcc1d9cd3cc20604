import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PaymentError } from '../internal/errors.js';
import { decryptPrivateKey, encryptPrivateKey } from './crypto.js';
import { parseMasterKey } from './master-key.js';

const master = parseMasterKey(randomBytes(32).toString('hex'));
const other = parseMasterKey(randomBytes(32).toString('hex'));
const alice = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266';
const bob = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';
const key = new Uint8Array(randomBytes(32));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof PaymentError ? err.code : 'not a PaymentError';
  }
  return undefined;
}

describe('encryptPrivateKey / decryptPrivateKey', () => {
  it('round-trips, in the v1 text form with a 96-bit nonce and a 16-byte tag', () => {
    const encoded = encryptPrivateKey(master, alice, key);
    expect(encoded).toMatch(/^v1:[0-9a-f]{24}:[0-9a-f]{64}:[0-9a-f]{32}$/);
    expect(encoded.length).toBeLessThanOrEqual(255);
    expect(decryptPrivateKey(master, alice, encoded)).toEqual(key);
  });

  it('uses a fresh nonce each time: two encryptions of the same key differ', () => {
    const a = encryptPrivateKey(master, alice, key);
    const b = encryptPrivateKey(master, alice, key);
    expect(a.split(':')[1]).not.toBe(b.split(':')[1]);
    expect(a.split(':')[2]).not.toBe(b.split(':')[2]);
  });

  it('refuses a wrong master key with master_key_wrong, naming the address', () => {
    const encoded = encryptPrivateKey(master, alice, key);
    expect(codeOf(() => decryptPrivateKey(other, alice, encoded))).toBe('master_key_wrong');
    expect(() => decryptPrivateKey(other, alice, encoded)).toThrow(
      `PAYMENT_MASTER_KEY does not decrypt the key of ${alice}`,
    );
  });

  it('binds the address: a row moved to another address does not decrypt', () => {
    const encoded = encryptPrivateKey(master, alice, key);
    expect(codeOf(() => decryptPrivateKey(master, bob, encoded))).toBe('master_key_wrong');
  });

  it('detects tampering with the ciphertext, the nonce or the tag', () => {
    const encoded = encryptPrivateKey(master, alice, key);
    const flip = (hex: string) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
    const [v, nonce = '', ct = '', tag = ''] = encoded.split(':');
    for (const bad of [
      [v, nonce, flip(ct), tag],
      [v, flip(nonce), ct, tag],
      [v, nonce, ct, flip(tag)],
    ]) {
      expect(codeOf(() => decryptPrivateKey(master, alice, bad.join(':')))).toBe('master_key_wrong');
    }
    expect(codeOf(() => decryptPrivateKey(master, alice, `v2:${nonce}:${ct}:${tag}`))).toBe(
      'wallet_row_invalid',
    );
  });
});
