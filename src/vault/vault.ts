import { secp256k1 } from '@noble/curves/secp256k1';
import {
  bytesToHex,
  type Hex,
  keccak256,
  numberToHex,
  serializeTransaction,
  type TransactionSerializable,
} from 'viem';
import { publicKeyToAddress } from 'viem/accounts';
import { PaymentError } from '../internal/errors.js';
import type { HdRootRow } from '../store/repos/addresses.js';
import { anyWallet, encryptedKeyOf, insertWallet, walletAddresses } from '../store/repos/wallets.js';
import type { Db } from '../store/schema.js';
import { decodeHex32, decryptPrivateKey, encryptPrivateKey } from './crypto.js';
import { createHdKeys, type HdInitOutcome } from './hd-keys.js';
import type { MasterKey } from './master-key.js';

export interface VaultOptions {
  db: Db;
  masterKey: MasterKey;
  /** Unix ms, for `created_at`. */
  now?: () => number;
}

export interface Vault {
  /** Stores a hex private key (with or without 0x); resolves to its lowercase address. Idempotent. */
  importKey(hex: string): Promise<Hex>;
  /** Creates and stores a random key; resolves to its lowercase address. */
  newKey(): Promise<Hex>;
  /** Every stored address, lowercase, oldest first. */
  list(): Promise<Hex[]>;
  /** Whether the vault holds the key of this address: an imported key, or an issued HD address. */
  has(addressLc: string): Promise<boolean>;
  /**
   * Decrypts one stored key and the HD root (none stored: nothing to check); master_key_wrong when one
   * does not open.
   */
  verifyMasterKey(): Promise<void>;
  /**
   * The signed, serialized transaction (ready for eth_sendRawTransaction) from this address's key: an
   * imported key, or the key of an issued address derived from the HD seed for this signature.
   */
  signTransaction(addressLc: string, tx: TransactionSerializable): Promise<Hex>;
  /** `wallet init-hd`: stores the seed of `mnemonic` as the HD root, once (see HdKeys.init). */
  initHd(mnemonic: string): Promise<HdInitOutcome>;
  /** The HD root, or undefined before `wallet init-hd`. */
  hdRoot(): Promise<HdRootRow | undefined>;
  /** The address at m/44'/60'/0'/0/`index` of the root (its key zeroed before this returns). */
  hdAddressAt(root: HdRootRow, index: number): Hex;
}

/**
 * The key vault. Keys live encrypted in `wallets`; one is decrypted into a Uint8Array only for the
 * moment of a signature and zeroed right after, and never becomes a string. (noble-curves keeps its
 * own short-lived copies while signing, a bigint among them; JavaScript gives no way to wipe those.)
 */
export function createVault({ db, masterKey, now = Date.now }: VaultOptions): Vault {
  // Addresses known to be stored. Only hits are cached: a miss asks the database, so a key added by
  // `wallet import` while the service runs is found without a restart.
  const known = new Set<string>();
  let verified = false;
  const hd = createHdKeys({ db, masterKey, now });

  // Encrypted keys of addresses seen, so signing needs no query: the payout worker signs inside the
  // transaction that takes the nonce (where, on SQLite, a query outside it would wait forever). A row never
  // changes once written, and what is cached is ciphertext only.
  const encrypted = new Map<string, string>();
  async function findRow(address: string) {
    const cached = encrypted.get(address);
    if (cached) return { encrypted_key: cached };
    const key = await encryptedKeyOf(db, address);
    if (key === undefined) return undefined;
    encrypted.set(address, key);
    return { encrypted_key: key };
  }

  async function verifyMasterKey(): Promise<void> {
    const row = await anyWallet(db);
    if (row) decryptPrivateKey(masterKey, row.address, row.encrypted_key).fill(0);
    await hd.verify();
    verified = true;
  }

  /** Stores `keyBytes` (which the caller zeroes). */
  async function store(keyBytes: Uint8Array): Promise<Hex> {
    const address = addressOf(keyBytes);
    // Never write a key under another master key than the one already there: it could not be read back.
    if (!verified) await verifyMasterKey();
    const existing = await findRow(address);
    if (existing) {
      // Idempotent; and the stored row must open with this master key, or the import would lie.
      decryptPrivateKey(masterKey, address, existing.encrypted_key).fill(0);
    } else {
      const encrypted_key = encryptPrivateKey(masterKey, address, keyBytes);
      await insertWallet(db, address, encrypted_key, now());
    }
    known.add(address);
    return address;
  }

  return {
    async importKey(hex) {
      const keyBytes = parsePrivateKey(hex);
      try {
        return await store(keyBytes);
      } finally {
        keyBytes.fill(0);
      }
    },

    async newKey() {
      const keyBytes = secp256k1.utils.randomPrivateKey();
      try {
        return await store(keyBytes);
      } finally {
        keyBytes.fill(0);
      }
    },

    list: () => listWallets(db),

    async has(addressLc) {
      const address = addressLc.toLowerCase();
      if (known.has(address)) return true;
      if (!(await findRow(address))) return hd.has(address);
      known.add(address);
      return true;
    },

    verifyMasterKey,

    async initHd(mnemonic) {
      // Never write the seed under another master key than the one already there.
      if (!verified) await verifyMasterKey();
      return hd.init(mnemonic);
    },

    hdRoot: () => hd.root(),

    hdAddressAt: (root, index) => hd.addressAt(root, index),

    async signTransaction(addressLc, tx) {
      const address = addressLc.toLowerCase();
      // What `has` found is signed for without a query (inside the payout worker's nonce transaction a
      // query would wait for ever on SQLite): an imported key's ciphertext, or an issued address's index.
      const issued = !encrypted.has(address) && hd.knows(address);
      const row = issued ? undefined : await findRow(address);
      if (!row && !issued && !(await hd.has(address))) {
        throw new PaymentError('wallet_unknown', `the vault holds no key for ${address}`);
      }
      // As viem does: a blob transaction is signed without its sidecars. Serialized before the key
      // is decrypted, so a malformed transaction never touches it.
      const signable = tx.type === 'eip4844' ? { ...tx, sidecars: false as const } : tx;
      const hash = keccak256(serializeTransaction(signable), 'bytes');
      const sign = (keyBytes: Uint8Array) => secp256k1.sign(hash, keyBytes, { lowS: true });
      let sig: { r: bigint; s: bigint; recovery: number };
      if (row) {
        const keyBytes = decryptPrivateKey(masterKey, address, row.encrypted_key);
        try {
          sig = sign(keyBytes);
        } finally {
          keyBytes.fill(0);
        }
      } else {
        // Derived for this signature and zeroed by withKey.
        const derived = hd.withKey(address, sign);
        if (!derived) throw new PaymentError('wallet_unknown', `the vault holds no key for ${address}`);
        sig = derived.value;
      }
      return serializeTransaction(tx, {
        r: numberToHex(sig.r, { size: 32 }),
        s: numberToHex(sig.s, { size: 32 }),
        // `v` for legacy transactions (viem turns it into EIP-155's), yParity for typed ones.
        v: sig.recovery ? 28n : 27n,
        yParity: sig.recovery,
      });
    },
  };
}

/** Every stored address, lowercase, oldest first; needs no master key (`wallet list`). */
export async function listWallets(db: Db): Promise<Hex[]> {
  return (await walletAddresses(db)) as Hex[];
}

/**
 * A hex private key, with or without 0x and surrounding whitespace, to 32 bytes the caller zeroes.
 * The messages never echo the input.
 */
export function parsePrivateKey(hex: string): Uint8Array {
  const text = hex.trim().replace(/^0x/i, '');
  const bytes = decodeHex32(text);
  if (!bytes) {
    throw new PaymentError(
      'private_key_invalid',
      `not a private key: expected 64 hex characters (32 bytes), with or without 0x; found ${text.length} characters`,
    );
  }
  if (!secp256k1.utils.isValidPrivateKey(bytes)) {
    bytes.fill(0);
    throw new PaymentError(
      'private_key_invalid',
      'not a valid secp256k1 private key: it must be above zero and below the curve order',
    );
  }
  return bytes;
}

function addressOf(keyBytes: Uint8Array): Hex {
  // The public key is not secret; hex is fine from here on.
  const publicKey = bytesToHex(secp256k1.getPublicKey(keyBytes, false));
  return publicKeyToAddress(publicKey).toLowerCase() as Hex;
}
