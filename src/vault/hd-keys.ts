import type { Hex } from 'viem';
import { PaymentError } from '../internal/errors.js';
import { type HdRootRow, insertHdRoot, issuedAt, loadHdRoot } from '../store/repos/addresses.js';
import type { Db } from '../store/schema.js';
import { decryptSecret, encryptSecret } from './crypto.js';
import { addressOfKey, deriveHdKey, hdAddress, mnemonicToSeed, SEED_BYTES } from './hd.js';
import type { MasterKey } from './master-key.js';

/** What the seed is bound to (GCM associated data): a root row copied onto another does not decrypt. */
const seedAssociated = (firstAddress: string) => `hd-seed:${firstAddress}`;

export interface HdInitOutcome {
  /** False when this mnemonic's root was already stored (nothing written). */
  created: boolean;
  /** The address at index 0: the root's public fingerprint. */
  firstAddress: Hex;
}

export interface HdKeys {
  /**
   * Stores the seed of `mnemonic` as the HD root, once. The same root again changes nothing
   * (`created: false`); another one while a root exists throws `hd_root_exists` and changes nothing.
   */
  init(mnemonic: string): Promise<HdInitOutcome>;
  /** The stored root (cached once found), or undefined before `wallet init-hd`. */
  root(): Promise<HdRootRow | undefined>;
  /** Decrypts the stored root, if any: `master_key_wrong` when it does not open. */
  verify(): Promise<void>;
  /** The address at `index`; the seed and key are zeroed before this returns. Needs the root. */
  addressAt(root: HdRootRow, index: number): Hex;
  /** Whether `addressLc` is an issued address; a hit caches its index and the root, for `withKey`. */
  has(addressLc: string): Promise<boolean>;
  /** Whether `has` found `addressLc` before (no query). */
  knows(addressLc: string): boolean;
  /**
   * Runs `use` with the private key of an issued address found by `has` (no query: the payout worker
   * signs inside its nonce transaction), zeroing key and seed after. Undefined when not known.
   */
  withKey<T>(addressLc: string, use: (key: Uint8Array) => T): { value: T } | undefined;
}

/** The HD half of the vault (src/vault/vault.ts): the seed's storage and the keys derived from it. */
export function createHdKeys({
  db,
  masterKey,
  now,
}: {
  db: Db;
  masterKey: MasterKey;
  now: () => number;
}): HdKeys {
  let cachedRoot: HdRootRow | undefined;
  // Issued address → its index. Only hits are cached: an address issued while running is found.
  const indexes = new Map<string, number>();

  async function root(): Promise<HdRootRow | undefined> {
    cachedRoot ??= await loadHdRoot(db);
    return cachedRoot;
  }

  function openSeed(row: HdRootRow): Uint8Array {
    return decryptSecret(
      masterKey,
      seedAssociated(row.first_address),
      row.encrypted_seed,
      SEED_BYTES,
      'HD seed',
    );
  }

  function withSeed<T>(row: HdRootRow, use: (seed: Uint8Array) => T): T {
    const seed = openSeed(row);
    try {
      return use(seed);
    } finally {
      seed.fill(0);
    }
  }

  return {
    async init(mnemonic) {
      const seed = mnemonicToSeed(mnemonic);
      try {
        const firstAddress = hdAddress(seed, 0);
        const existing = await root();
        if (!existing) {
          const encrypted_seed = encryptSecret(masterKey, seedAssociated(firstAddress), seed);
          if (await insertHdRoot(db, { encrypted_seed, first_address: firstAddress }, now())) {
            cachedRoot = { encrypted_seed, first_address: firstAddress };
            return { created: true, firstAddress };
          }
        }
        // A root exists (or was written meanwhile by another init-hd): never replaced.
        cachedRoot = undefined;
        const stored = await root();
        if (stored?.first_address !== firstAddress) {
          throw new PaymentError(
            'hd_root_exists',
            `an HD root already exists (its address 0 is ${stored?.first_address}); nothing changed`,
          );
        }
        openSeed(stored).fill(0);
        return { created: false, firstAddress };
      } finally {
        seed.fill(0);
      }
    },

    root,

    async verify() {
      const row = await root();
      if (row) openSeed(row).fill(0);
    },

    addressAt(row, index) {
      return withSeed(row, (seed) => hdAddress(seed, index));
    },

    async has(addressLc) {
      if (indexes.has(addressLc)) return true;
      const issued = await issuedAt(db, addressLc);
      if (!issued || !(await root())) return false;
      indexes.set(addressLc, Number(issued.hd_index));
      return true;
    },

    knows: (addressLc) => indexes.has(addressLc) && cachedRoot !== undefined,

    withKey(addressLc, use) {
      const index = indexes.get(addressLc);
      const row = cachedRoot;
      if (index === undefined || !row) return undefined;
      return withSeed(row, (seed) => {
        const key = deriveHdKey(seed, index);
        try {
          // The stored index must still give this address: a row altered by hand signs nothing.
          if (addressOfKey(key) !== addressLc) {
            throw new PaymentError(
              'wallet_row_invalid',
              `issued address ${addressLc} is not the HD address at index ${index}`,
            );
          }
          return { value: use(key) };
        } finally {
          key.fill(0);
        }
      });
    },
  };
}
