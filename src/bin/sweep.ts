import { createPayoutClient } from '../chain/payout-client.js';
import { loadConfig } from '../config/load.js';
import type { ChainConfig, Config } from '../config/types.js';
import { loadDevnetConfig } from '../devnet/devnet.js';
import { errorMessage, PaymentError } from '../internal/errors.js';
import { defaultOptions } from '../internal/options.js';
import { redactUrls } from '../internal/redact.js';
import { formatAmount } from '../money/amount.js';
import { createDatabase, type DatabaseHandle } from '../store/db.js';
import { migrateToLatest } from '../store/migrate.js';
import { gwei, type SweepPlan } from '../treasury/sweep-plan.js';
import { readSweepPlan } from '../treasury/sweep-reads.js';
import { listWallets } from '../vault/vault.js';
import { reportStartError, resolveConfigSource } from './start.js';

/** How long one chain's node gets to answer before its plan shows an error (a node that hangs). */
const NODE_TIMEOUT_MS = 10_000;

export interface SweepFlags {
  dryRun?: boolean;
  chain?: string;
  config?: string;
}

/**
 * `m2pool-payment sweep --dry-run [--chain NAME] [--config PATH]`: each chain's sweep plan as the sweeper
 * would make it now (docs/TREASURY.md §4), read from its node and the database, nothing sent. Without
 * --dry-run it exits 2: the running service sweeps, one round each `intervalSeconds` (a second sweeper
 * beside it could store a second top-up for a wallet). Resolves with the exit code: 1 when a chain's
 * plan could not be read (the others are shown), 2 for a flag or config the operator fixes.
 */
export async function runSweep(
  flags: SweepFlags,
  options: { env?: NodeJS.ProcessEnv; devnetDir?: string } = {},
): Promise<number> {
  if (!flags.dryRun) {
    console.error(
      'error: the running service sweeps every intervalSeconds (see its status page); run `m2pool-payment sweep --dry-run` to see the plan',
    );
    return 2;
  }
  let handle: DatabaseHandle | undefined;
  try {
    const config = resolveConfig(flags, options.env ?? process.env, options.devnetDir ?? './data');
    const chains = config.chains.filter(
      (c) => !flags.chain || c.name.toLowerCase() === flags.chain.toLowerCase(),
    );
    if (chains.length === 0) {
      console.error(
        `error: no chain ${flags.chain} in the config (${config.chains.map((c) => c.name).join(', ')})`,
      );
      return 2;
    }
    handle = await createDatabase(config.db);
    await migrateToLatest(handle.db);
    let failed = false;
    for (const chain of chains) {
      const lines = await chainLines(handle, chain);
      failed ||= lines.failed;
      for (const line of lines.lines) console.log(line);
    }
    return failed ? 1 : 0;
  } catch (err) {
    if (err instanceof PaymentError && err.code === 'no_config') {
      console.error(`error: ${err.message}`);
      return 2;
    }
    return reportStartError(err);
  } finally {
    await handle?.close();
  }
}

function resolveConfig(flags: SweepFlags, env: NodeJS.ProcessEnv, devnetDir: string): Config {
  const source = resolveConfigSource(flags, env);
  if (!source.devnet) return loadConfig({ path: source.path, env });
  // The devnet's config of its last start, as `wallet list` reads it.
  const config = loadDevnetConfig(devnetDir);
  if (!config) {
    throw new PaymentError(
      'no_config',
      `no config file (pass --config PATH, set CONFIG_PATH or create ./config.json) and no devnet under ${devnetDir}`,
    );
  }
  return config;
}

async function chainLines(
  handle: DatabaseHandle,
  chain: ChainConfig,
): Promise<{ lines: string[]; failed: boolean }> {
  if (!chain.sweep) return { lines: [`${chain.name}: no sweep configured`], failed: false };
  try {
    // The first node only, as `wallet list --balances`: a one-shot command needs no ranking of several.
    const client = createPayoutClient(chain.rpcUrl, {
      ...defaultOptions.payouts,
      rpcTimeoutMs: NODE_TIMEOUT_MS,
    });
    const chainId = await client.getChainId();
    if (chain.chainId !== undefined && chainId !== chain.chainId) {
      return {
        lines: [`${chain.name}: error: the node is on chain ${chainId}, not the configured ${chain.chainId}`],
        failed: true,
      };
    }
    const { gasGuess, gasMarginPct } = defaultOptions.payouts;
    const plan = await readSweepPlan({ db: handle.db, client, gasGuess, gasMarginPct }, chain);
    if (!plan) return { lines: [`${chain.name}: no sweep configured`], failed: false };
    // The top-ups are signed by the gas wallet: a key the vault lacks would stop them all.
    const held = (await listWallets(handle.db)).some((a) => a.toLowerCase() === plan.gasWallet.address);
    return { lines: planLines(chain, plan, held), failed: false };
  } catch (err) {
    // Scheme and host only: a provider's key in the URL never prints.
    const message = errorMessage(err).split('\n')[0] ?? 'no answer';
    return {
      lines: [`${chain.name}: error: node ${redactUrls(chain.rpcUrl)}: ${redactUrls(message)}`],
      failed: true,
    };
  }
}

/** The plan as the operator reads it: amounts exact in their decimals, gas in the native coin. */
export function planLines(chain: ChainConfig, plan: SweepPlan, gasWalletHeld: boolean): string[] {
  const { symbol: coin, decimals } = chain.native;
  const native = (raw: bigint) => `${formatAmount(raw, decimals)} ${coin}`;
  const cap = chain.sweep ? gwei(chain.sweep.maxFeePerGasWei) : '?';
  const lines = [
    `${plan.chain}: block ${plan.block}, fee now ${gwei(plan.fees.currentPerGas)} gwei (maxFeeGwei ${cap}), sweeps signed at up to ${gwei(plan.fees.maxFeePerGas)} gwei${plan.enabled ? '' : ' (sweep.enabled is false: nothing will be swept)'}`,
  ];
  if (plan.skipped) {
    lines.push(`  skipped: ${plan.skipped}`);
    return lines;
  }
  if (plan.wallets.length === 0) lines.push('  no wallet to sweep');
  for (const w of plan.wallets) {
    lines.push(`  wallet ${w.index} ${w.address} (user ${w.userRef})`);
    for (const t of w.tokens) {
      const gas = `gas limit ${t.gasLimit} (${t.estimated ? 'estimated' : 'bound: the node gave no estimate'})`;
      lines.push(
        `    sweep ${formatAmount(t.amount, t.decimals)} ${t.symbol} (spare ${formatAmount(t.spare, t.decimals)}), ${gas}`,
      );
    }
    lines.push(
      `    gas at most ${native(w.gasCost)}, own ${native(w.nativeSpare)}, top-up ${native(w.topUp)}`,
    );
    if (w.nativeSweep > 0n) lines.push(`    sweep ${native(w.nativeSweep)} (surplus)`);
    else lines.push(`    surplus ${native(w.nativeSurplus)} (left in the wallet)`);
  }
  const totals = Object.entries(plan.totals).map(([symbol, raw]) => {
    const asset = symbol === coin ? chain.native : chain.tokens.find((t) => t.symbol === symbol);
    return `${formatAmount(raw, asset?.decimals ?? decimals)} ${symbol}`;
  });
  lines.push(
    `  total: ${plan.wallets.length} wallet(s), ${totals.length ? totals.join(', ') : 'nothing'}; gas at most ${native(plan.gasCost)}; top-ups ${plan.topUpCount}, ${native(plan.topUpTotal)}`,
  );
  const g = plan.gasWallet;
  const verdict =
    g.needed > 0n && !gasWalletHeld
      ? 'CANNOT fund the round: the vault holds no key for it'
      : g.canFund
        ? 'can fund the round'
        : 'CANNOT fund the round';
  lines.push(`  gas wallet ${g.address}: spare ${native(g.spare)}, needs ${native(g.needed)}: ${verdict}`);
  return lines;
}
