import type { Command } from 'commander';
import { CHAIN_DEFAULTS } from '../config/chains.js';
import { loadConfig } from '../config/load.js';
import type { Config, DbConfig } from '../config/types.js';
import { devnetDbConfig, devnetRmq, loadDevnetConfig, loadDevnetState } from '../devnet/devnet.js';
import { PaymentError } from '../internal/errors.js';
import { ApprovalError, decideHeldPayout } from '../payouts/approve.js';
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

export interface ApprovalFlags {
  reason?: string;
  config?: string;
  key?: string;
}

/**
 * `m2pool-payment payout approve QUEUE_ID` / `payout reject QUEUE_ID [--reason TEXT]`: the operator's word
 * on a payout held by its chain's approval threshold. Approve: accepted, then paid as usual by the
 * running service. Reject: failed and answered once, `status 0` with error `rejected` (signed with --key
 * or PAYMENT_SIGN_KEY). The same word twice says so and changes nothing (exit 0); the other word after
 * one was given, or a payout that is not held, exit 1; a usage error, 2.
 */
export async function runApproval(
  queueId: string,
  word: 'approve' | 'reject',
  flags: ApprovalFlags,
  options: { env?: NodeJS.ProcessEnv; devnetDir?: string } = {},
): Promise<number> {
  const env = options.env ?? process.env;
  let handle: DatabaseHandle | undefined;
  try {
    const target = resolveTarget(flags, env, options.devnetDir ?? './data');
    if (word === 'reject' && !target.signKey) {
      console.error('error: no signing secret for the answer: pass --key SECRET or set PAYMENT_SIGN_KEY');
      return 2;
    }
    handle = await createDatabase(target.db);
    await migrateToLatest(handle.db);
    const outcome = await decideHeldPayout(
      { db: handle.db, chains: target.chains, rmq: target.rmq, signKey: target.signKey ?? '' },
      queueId,
      word === 'approve' ? { approve: true } : { reject: flags.reason },
    );
    console.log(outcome.line);
    return 0;
  } catch (err) {
    if (err instanceof ApprovalError) {
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

function resolveTarget(
  flags: ResolveFlags | ApprovalFlags,
  env: NodeJS.ProcessEnv,
  devnetDir: string,
): Target {
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

/** `payout approve` and `payout reject`, under the `payout` command of m2pool-payment.ts. */
export function addApprovalCommands(payout: Command): void {
  const configOption = [
    '--config <path>',
    'config file (default: CONFIG_PATH, else ./config.json; none: the devnet under ./data)',
  ] as const;
  payout
    .command('approve')
    .description(
      'approve a payout held by its policy (approvalAbove): it is accepted and paid as usual by the running service',
    )
    .argument('<queue_id>', 'the payout')
    .option(...configOption)
    .action(async (queueId: string, flags: ApprovalFlags) => {
      process.exitCode = await runApproval(queueId, 'approve', flags);
    });
  payout
    .command('reject')
    .description(
      'reject a payout held by its policy (approvalAbove): answered once, status 0, error rejected',
    )
    .argument('<queue_id>', 'the payout')
    .option('--reason <text>', 'the answer’s error_message (default: rejected by the operator)')
    .option(...configOption)
    .option('--key <secret>', 'the message-signing secret (default: PAYMENT_SIGN_KEY)')
    .action(async (queueId: string, flags: ApprovalFlags) => {
      process.exitCode = await runApproval(queueId, 'reject', flags);
    });
}
