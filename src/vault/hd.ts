import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1';
import { bytesToHex, type Hex } from 'viem';
import { english, HDKey, publicKeyToAddress } from 'viem/accounts';
import { PaymentError } from '../internal/errors.js';

/*
 * HD deposit wallets (BIP-39 mnemonic → seed, BIP-32 derivation at m/44'/60'/0'/0/i, as MetaMask and
 * every EVM wallet derive). The seed is the secret the vault stores (encrypted); the mnemonic is only
 * shown once to the operator and never kept. BIP-39 is done here with node:crypto and viem's English
 * wordlist (@scure/bip39 is not a direct dependency); test vectors in hd.test.ts.
 */

export const SEED_BYTES = 64;
/** Non-hardened BIP-32 indexes are below 2^31. */
export const MAX_HD_INDEX = 0x7fff_ffff;
/** m/44'/60'/0'/0: the external chain of the first Ethereum account. */
const HARDENED = 0x8000_0000;
const ACCOUNT_PATH = [44 + HARDENED, 60 + HARDENED, HARDENED, 0];

export function hdPath(index: number): string {
  return `m/44'/60'/0'/0/${index}`;
}

/** A new 24-word English mnemonic (256 bits of entropy). */
export function newMnemonic(): string {
  const entropy = randomBytes(32);
  try {
    return entropyToMnemonic(entropy);
  } finally {
    entropy.fill(0);
  }
}

function entropyToMnemonic(entropy: Uint8Array): string {
  const checksumBits = entropy.length / 4;
  const hash = createHash('sha256').update(entropy).digest();
  const bits = [...entropy, hash[0] ?? 0].map((b) => b.toString(2).padStart(8, '0')).join('');
  const total = entropy.length * 8 + checksumBits;
  const words: string[] = [];
  for (let i = 0; i < total; i += 11) words.push(english[Number.parseInt(bits.slice(i, i + 11), 2)]!);
  hash.fill(0);
  return words.join(' ');
}

/** Words separated by any whitespace, in any letter case, to BIP-39's form: lowercase, one space. */
export function normalizeMnemonic(text: string): string {
  return text.normalize('NFKD').trim().toLowerCase().split(/\s+/).join(' ');
}

/**
 * Checks a mnemonic (12 to 24 English words, the checksum) and returns its 64-byte BIP-39 seed (no
 * passphrase) in a fresh Uint8Array the caller zeroes. The messages never quote the words.
 */
export function mnemonicToSeed(text: string): Uint8Array {
  const mnemonic = normalizeMnemonic(text);
  const words = mnemonic === '' ? [] : mnemonic.split(' ');
  if (![12, 15, 18, 21, 24].includes(words.length)) {
    throw new PaymentError(
      'mnemonic_invalid',
      `not a BIP-39 mnemonic: expected 12, 15, 18, 21 or 24 words, found ${words.length}`,
    );
  }
  const indexes = words.map((w) => english.indexOf(w));
  const unknown = indexes.filter((i) => i < 0).length;
  if (unknown > 0) {
    throw new PaymentError(
      'mnemonic_invalid',
      `not a BIP-39 mnemonic: ${unknown} of its words are not in the English wordlist`,
    );
  }
  const bits = indexes.map((i) => i.toString(2).padStart(11, '0')).join('');
  const entropyBits = (words.length * 11 * 32) / 33;
  const entropy = new Uint8Array(entropyBits / 8);
  for (let i = 0; i < entropy.length; i++) entropy[i] = Number.parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  const expected = entropyToMnemonic(entropy);
  entropy.fill(0);
  if (expected !== mnemonic) {
    throw new PaymentError('mnemonic_invalid', 'not a BIP-39 mnemonic: its checksum does not match');
  }
  const derived = pbkdf2Sync(
    Buffer.from(mnemonic, 'utf8'),
    Buffer.from('mnemonic', 'utf8'),
    2048,
    64,
    'sha512',
  );
  const seed = new Uint8Array(SEED_BYTES);
  seed.set(derived);
  derived.fill(0);
  return seed;
}

/**
 * The private key at m/44'/60'/0'/0/`index` of `seed`, in a fresh Uint8Array the caller zeroes. Every
 * node on the way is wiped (@scure/bip32 keeps its keys in Uint8Arrays it can zero).
 */
export function deriveHdKey(seed: Uint8Array, index: number): Uint8Array {
  if (!Number.isSafeInteger(index) || index < 0 || index > MAX_HD_INDEX) {
    throw new PaymentError('hd_index_invalid', `HD index ${index} is not between 0 and ${MAX_HD_INDEX}`);
  }
  let node = HDKey.fromMasterSeed(seed);
  try {
    for (const step of [...ACCOUNT_PATH, index]) {
      const child = node.deriveChild(step);
      node.wipePrivateData();
      node = child;
    }
    const key = node.privateKey;
    if (!key) throw new Error('BIP-32 derivation gave no private key');
    return Uint8Array.from(key);
  } finally {
    node.wipePrivateData();
  }
}

/** The lowercase address of a private key (the public key is not secret). */
export function addressOfKey(keyBytes: Uint8Array): Hex {
  return publicKeyToAddress(bytesToHex(secp256k1.getPublicKey(keyBytes, false))).toLowerCase() as Hex;
}

/** The lowercase address at m/44'/60'/0'/0/`index` of `seed`; the key is zeroed before this returns. */
export function hdAddress(seed: Uint8Array, index: number): Hex {
  const key = deriveHdKey(seed, index);
  try {
    return addressOfKey(key);
  } finally {
    key.fill(0);
  }
}
