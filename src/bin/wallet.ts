import { loadConfig } from '../config/load.js';
import type { ChainConfig, DbConfig } from '../config/types.js';
import { devnetDbConfig, loadDevnetConfig, loadDevnetState } from '../devnet/devnet.js';
import { errorMessage, PaymentError } from '../internal/errors.js';
import { createDatabase, type DatabaseHandle } from '../store/db.js';
import { migrateToLatest } from '../store/migrate.js';
import { issueAddress } from '../treasury/issue.js';
import { mnemonicToSeed } from '../vault/hd.js';
import { type MasterKey, parseMasterKey } from '../vault/master-key.js';
import { createVault, listWallets, parsePrivateKey } from '../vault/vault.js';
import { readStdin } from './sign.js';
import { reportStartError, resolveConfigSource } from './start.js';
import { walletBalanceLines } from './wallet-balances.js';
import { initHd, userRefProblem } from './wallet-hd.js';

export type WalletAction = 'import' | 'new' | 'list' | 'init-hd' | 'derive';

export interface WalletOptions {
  env?: NodeJS.ProcessEnv;
  /** Where the embedded devnet keeps its state (`npm start` without a config). */
  devnetDir?: string;
  readInput?: () => Promise<string>;
}

/** Errors the operator fixes (exit 2), as opposed to a database or other failure (exit 1). */
const OPERATOR_ERRORS = new Set([
  'no_config',
  'master_key_missing',
  'master_key_invalid',
  'master_key_wrong',
  'private_key_invalid',
  'mnemonic_invalid',
  'hd_root_missing',
]);

export interface WalletFlags {
  config?: string;
  /** `list --balances`: each wallet's balances on every configured chain, read from the nodes. */
  balances?: boolean;
  /** `init-hd --import`: the mnemonic is read from standard input instead of made. */
  import?: boolean;
  /** `derive --user REF`: the business user whose deposit address is issued (or given again). */
  user?: string;
}

/**
 * `m2pool-payment wallet import|new|list`: the database and master key of `start` (the config file,
 * PAYMENT_MASTER_KEY; or the devnet's under ./data), migrated first. Prints addresses only, one per
 * line (`list --balances`: each address followed by one line per chain); failures are one line on
 * stderr. Resolves with the exit code (1 when a chain's balances could not be read; the rest are shown).
 */
export async function runWallet(
  action: WalletAction,
  flags: WalletFlags,
  options: WalletOptions = {},
): Promise<number> {
  const env = options.env ?? process.env;
  let handle: DatabaseHandle | undefined;
  try {
    const target = resolveTarget(flags, env, options.devnetDir ?? './data');
    // Listing needs no key; the others check the master key before anything else.
    const masterKey = action === 'list' ? undefined : parseMasterKey(target.masterKeyText);
    let input: string | undefined;
    const userProblem = action === 'derive' ? userRefProblem(flags.user) : undefined;
    if (userProblem) {
      console.error(`error: ${userProblem}`);
      return 2;
    }
    if (action === 'init-hd' && flags.import) {
      input = await (options.readInput ?? readStdin)();
      // Refuse a bad mnemonic before opening the database (the message never quotes the words).
      mnemonicToSeed(input).fill(0);
    }
    if (action === 'import') {
      input = await (options.readInput ?? readStdin)();
      if (input.trim() === '') {
        throw new PaymentError(
          'private_key_invalid',
          'no private key on standard input: pipe one hex key in',
        );
      }
      // Refuse a bad key before opening the database.
      parsePrivateKey(input).fill(0);
    }
    handle = await createDatabase(target.db);
    await migrateToLatest(handle.db);
    if (action === 'list' && flags.balances) {
      const { lines, failed } = await walletBalanceLines(target.chains(), await listWallets(handle.db));
      for (const line of lines) console.log(line);
      return failed ? 1 : 0;
    }
    if ((action === 'init-hd' || action === 'derive') && masterKey) {
      const vault = createVault({ db: handle.db, masterKey });
      await vault.verifyMasterKey();
      if (action === 'init-hd') return await initHd(vault, input);
      const issued = await issueAddress(
        handle.db,
        { config: { chains: target.chains() }, vault },
        flags.user ?? '',
      );
      console.log(`${issued.address} ${issued.index}`);
      return 0;
    }
    for (const line of await act(action, handle, masterKey, input)) console.log(line);
    return 0;
  } catch (err) {
    return reportWalletError(err);
  } finally {
    await handle?.close();
  }
}

async function act(
  action: WalletAction,
  handle: DatabaseHandle,
  masterKey: MasterKey | undefined,
  input: string | undefined,
): Promise<string[]> {
  if (action === 'list' || !masterKey) return listWallets(handle.db);
  const vault = createVault({ db: handle.db, masterKey });
  // The vault also checks this before writing; done first here so a wrong key is the error shown.
  await vault.verifyMasterKey();
  return [action === 'import' ? await vault.importKey(input ?? '') : await vault.newKey()];
}

function resolveTarget(
  flags: { config?: string },
  env: NodeJS.ProcessEnv,
  devnetDir: string,
): { db: DbConfig; masterKeyText: string | undefined; chains: () => ChainConfig[] } {
  const source = resolveConfigSource(flags, env);
  if (!source.devnet) {
    const config = loadConfig({ path: source.path, env });
    return { db: config.db, masterKeyText: env.PAYMENT_MASTER_KEY, chains: () => config.chains };
  }
  const state = loadDevnetState(devnetDir);
  if (!state) {
    throw new PaymentError(
      'no_config',
      `no config file (pass --config PATH, set CONFIG_PATH or create ./config.json) and no devnet under ${devnetDir}`,
    );
  }
  // The devnet generated its master key once; its vault is encrypted under that one.
  return {
    db: devnetDbConfig(devnetDir),
    masterKeyText: state.masterKey,
    // The chains of the devnet's last start (its config file, rewritten at every start).
    chains: () => {
      const config = loadDevnetConfig(devnetDir);
      if (!config) {
        throw new PaymentError(
          'no_config',
          `no devnet config under ${devnetDir}: start the devnet (npm start) once`,
        );
      }
      return config.chains;
    },
  };
}

function reportWalletError(err: unknown): number {
  if (err instanceof PaymentError && OPERATOR_ERRORS.has(err.code)) {
    console.error(`error: ${err.message}`);
    return 2;
  }
  if (err instanceof PaymentError) return reportStartError(err);
  console.error(`error: ${errorMessage(err)}`);
  return 1;
}
