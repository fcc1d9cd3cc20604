import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { PaymentError } from '../internal/errors.js';
import type { MasterKey } from './master-key.js';

/** Re-exported for the vault, which decodes private keys with the same rules. */
export { decodeHex32 } from './hex.js';

/*
 * The stored form of a private key: `v1:<nonce>:<ciphertext>:<tag>`, lowercase hex. AES-256-GCM with
 * a fresh 96-bit nonce per encryption (random nonces are safe far beyond any number of wallets) and
 * the lowercase address as associated data, so a row copied onto another address does not decrypt.
 * The version prefix leaves room for another scheme (or a rotated master key) later.
 */

const VERSION = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const ENCODED = /^v1:([0-9a-f]{24}):((?:[0-9a-f]{2})+):([0-9a-f]{32})$/;

export function encryptPrivateKey(master: MasterKey, addressLc: string, keyBytes: Uint8Array): string {
  if (keyBytes.length !== KEY_BYTES) throw new Error(`a private key is ${KEY_BYTES} bytes`);
  return encryptSecret(master, addressLc, keyBytes);
}

/**
 * The 32 key bytes of `encoded`, in a fresh Uint8Array the caller zeroes after use. A wrong master
 * key, a row moved to another address and a tampered row all fail GCM's check alike: master_key_wrong.
 */
export function decryptPrivateKey(master: MasterKey, addressLc: string, encoded: string): Uint8Array {
  return decryptSecret(master, addressLc, encoded, KEY_BYTES, `key of ${addressLc}`);
}

/**
 * Any secret (an HD seed: 64 bytes) in the same `v1:` form, bound to `associated` (what it belongs to:
 * a row copied elsewhere does not decrypt).
 */
export function encryptSecret(master: MasterKey, associated: string, secret: Uint8Array): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', master.reveal(), nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(associated, 'utf8'));
  const head = cipher.update(secret);
  const tail = cipher.final();
  const tag = cipher.getAuthTag();
  return `${VERSION}:${nonce.toString('hex')}:${head.toString('hex')}${tail.toString('hex')}:${tag.toString('hex')}`;
}

/**
 * The `length` bytes of a secret encrypted by `encryptSecret`, in a fresh Uint8Array the caller zeroes.
 * `what` names it in errors (never its value).
 */
export function decryptSecret(
  master: MasterKey,
  associated: string,
  encoded: string,
  length: number,
  what: string,
): Uint8Array {
  const parts = ENCODED.exec(encoded);
  if (!parts || (parts[2] ?? '').length !== length * 2) {
    throw new PaymentError('wallet_row_invalid', `the stored ${what} is not in a known format`);
  }
  const [, nonceHex = '', cipherHex = '', tagHex = ''] = parts;
  const decipher = createDecipheriv('aes-256-gcm', master.reveal(), Buffer.from(nonceHex, 'hex'), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(Buffer.from(associated, 'utf8'));
  decipher.setAuthTag(Buffer.from(tagHex, 'hex'));
  const out = new Uint8Array(length);
  // Copied into `out` and wiped: node's own buffers would otherwise keep the key until collected.
  const head = decipher.update(Buffer.from(cipherHex, 'hex'));
  try {
    const tail = decipher.final();
    out.set(head);
    out.set(tail, head.length);
    tail.fill(0);
    return out;
  } catch (err) {
    out.fill(0);
    throw new PaymentError(
      'master_key_wrong',
      `PAYMENT_MASTER_KEY does not decrypt the ${what}: it is not the master key the vault was written with, or the stored row was altered`,
      { cause: err },
    );
  } finally {
    head.fill(0);
  }
}
