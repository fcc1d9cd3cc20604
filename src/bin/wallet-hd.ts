import { PaymentError } from '../internal/errors.js';
import { newMnemonic } from '../vault/hd.js';
import type { Vault } from '../vault/vault.js';

/** The longest `user_ref` the table holds (as `queue_id`). */
const MAX_USER_REF = 191;

/** `derive --user REF`: what is wrong with the reference (empty, longer than its column), if anything. */
export function userRefProblem(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return 'wallet derive needs --user REF (the business user)';
  if (value.length > MAX_USER_REF) return `--user is longer than ${MAX_USER_REF} characters`;
  return undefined;
}

/**
 * `wallet init-hd [--import]`: stores the HD root once. A new mnemonic is printed on standard output,
 * this once, and only after its seed is stored; the notes go to standard error. A root already there is
 * never replaced: the same mnemonic imported again is a no-op (exit 0), anything else exits 1.
 */
export async function initHd(vault: Vault, imported: string | undefined): Promise<number> {
  const existing = await vault.hdRoot();
  if (existing && imported === undefined) {
    console.error(
      `error: an HD root already exists (its address 0 is ${existing.first_address}); nothing changed. Its mnemonic was shown when it was made and is not shown again`,
    );
    return 1;
  }
  const mnemonic = imported ?? newMnemonic();
  let outcome: Awaited<ReturnType<Vault['initHd']>>;
  try {
    outcome = await vault.initHd(mnemonic);
  } catch (err) {
    if (err instanceof PaymentError && err.code === 'hd_root_exists') {
      console.error(`error: ${err.message}`);
      return 1;
    }
    throw err;
  }
  if (imported !== undefined) {
    console.log(outcome.firstAddress);
    console.error(
      outcome.created
        ? `HD root imported: deposit addresses are derived at m/44'/60'/0'/0/i; address 0 is ${outcome.firstAddress}`
        : `this mnemonic is already the HD root (address 0 is ${outcome.firstAddress}); nothing changed`,
    );
    return 0;
  }
  console.log(mnemonic);
  console.error(
    `HD root created (address 0 is ${outcome.firstAddress}). The line above is its mnemonic, shown this once: write it down and keep it offline, apart from PAYMENT_MASTER_KEY. With it every deposit address can be recovered; the service never shows it again.`,
  );
  return 0;
}
