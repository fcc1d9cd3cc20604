import { CHAIN_DEFAULTS } from '../config/chains.js';
import { loadConfig } from '../config/load.js';
import type { Config, DbConfig } from '../config/types.js';
import { devnetDbConfig, devnetRmq, loadDevnetConfig, loadDevnetState } from '../devnet/devnet.js';
import { PaymentError } from '../internal/errors.js';
import { type Resolution, type ResolveChain, ResolveError, resolvePayout } from '../payouts/resolve.js';
import { createDatabase, type DatabaseHandle } from '../store/db.js';
import { migrateToLatest } from '../store/migrate.js';
import { reportStartError, resolveConfigSource } from './start.js';

export interface ResolveFlags {
  paid?: string;
  failed?: string;
  config?: string;
  key?: string;
}

const TX_HASH = /^0x[0-9a-fA-F]{64}$/;

/**
 * `m2pool-payment payout resolve QUEUE_ID --paid TX_HASH | --failed REASON`: settles a payout held
 * `unresolved` and answers the business once. Uses the config file (or the devnet under ./data) and
 * PAYMENT_SIGN_KEY / --key to sign the answer. Exit 0 when settled, 1 when it cannot be, 2 for a usage error.
 */
export async function runResolve(
  queueId: string,
  flags: ResolveFlags,
  options: { env?: NodeJS.ProcessEnv; devnetDir?: string } = {},
): Promise<number> {
  const env = options.env ?? process.env;
  const resolution = parseResolution(flags);
  if (typeof resolution === 'string') {
    console.error(`error: ${resolution}`);
    return 2;
  }
  let handle: DatabaseHandle | undefined;
  try {
    const target = resolveTarget(flags, env, options.devnetDir ?? './data');
    if (!target.signKey) {
      console.error('error: no signing secret for the answer: pass --key SECRET or set PAYMENT_SIGN_KEY');
      return 2;
    }
    handle = await createDatabase(target.db);
    await migrateToLatest(handle.db);
    const line = await resolvePayout(
      { db: handle.db, chains: target.chains, rmq: target.rmq, signKey: target.signKey },
      queueId,
      resolution,
    );
    console.log(line);
    return 0;
  } catch (err) {
    if (err instanceof ResolveError) {
      console.error(`error: ${err.message}`);
      return 1;
    }
    return reportStartError(err);
  } finally {
    await handle?.close();
  }
}

function parseResolution(flags: ResolveFlags): Resolution | string {
  if ((flags.paid === undefined) === (flags.failed === undefined)) {
    return 'pass exactly one of --paid TX_HASH or --failed REASON';
  }
  if (flags.failed !== undefined) {
    return flags.failed.trim() ? { failed: flags.failed.trim() } : '--failed needs a reason';
  }
  if (!TX_HASH.test(flags.paid!)) return `not a transaction hash: ${flags.paid} (0x and 64 hex digits)`;
  return { paid: flags.paid! };
}

interface Target {
  db: DbConfig;
  /** Every configured chain: the payout's own (its row names it) is the node its transaction is checked on. */
  chains: readonly ResolveChain[];
  rmq: Config['rmq'];
  signKey: string | undefined;
}

function resolveTarget(flags: ResolveFlags, env: NodeJS.ProcessEnv, devnetDir: string): Target {
  const signKey = flags.key || env.PAYMENT_SIGN_KEY || undefined;
  const source = resolveConfigSource(flags, env);
  if (!source.devnet) {
    const config = loadConfig({ path: source.path, env });
    return { db: config.db, chains: config.chains, rmq: config.rmq, signKey };
  }
  const state = loadDevnetState(devnetDir);
  if (!state?.rpcUrl) {
    throw new PaymentError(
      'no_config',
      `no config file (pass --config PATH, set CONFIG_PATH or create ./config.json) and no devnet under ${devnetDir}`,
    );
  }
  // Every chain of the config file the devnet writes; a devnet made before it had only ETH.
  const chains = loadDevnetConfig(devnetDir)?.chains ?? [
    { name: CHAIN_DEFAULTS.ethName, rpcUrl: state.rpcUrl, native: CHAIN_DEFAULTS.ethNative },
  ];
  return {
    db: devnetDbConfig(devnetDir),
    chains,
    rmq: devnetRmq(state.queuePrefix ?? ''),
    signKey: signKey ?? state.signKey,
  };
}
