import { PaymentError } from '../internal/errors.js';
import { decodeHex32 } from './hex.js';
import { Redacted } from './redacted.js';

/** The 32-byte AES-256-GCM key every private key in the vault is encrypted under. Prints `[redacted]`. */
export type MasterKey = Redacted<Uint8Array>;

/**
 * PAYMENT_MASTER_KEY (64 hex characters) to a MasterKey. Called at start, so a missing or malformed
 * key stops the process there, not in the middle of a payout. The messages never echo the value.
 * Whitespace around it (a newline from an env file) is ignored.
 */
export function parseMasterKey(value: string | undefined): MasterKey {
  const text = value?.trim() ?? '';
  if (text === '') {
    throw new PaymentError(
      'master_key_missing',
      'PAYMENT_MASTER_KEY is not set: set it to 64 hex characters (32 random bytes, e.g. `openssl rand -hex 32`)',
    );
  }
  const bytes = decodeHex32(text);
  if (!bytes) {
    const nonHex = /^[0-9a-fA-F]*$/.test(text) ? '' : ', some not hex';
    throw new PaymentError(
      'master_key_invalid',
      `PAYMENT_MASTER_KEY is not valid: expected 64 hex characters (32 bytes), found ${text.length} characters${nonHex}`,
    );
  }
  return new Redacted(bytes);
}
