import type { Command } from 'commander';
import { deployBatcher } from '../batch/deploy.js';
import { createPayoutClient } from '../chain/payout-client.js';
import { loadConfig } from '../config/load.js';
import type { ChainConfig, DbConfig } from '../config/types.js';
import { devnetDbConfig, loadDevnetConfig, loadDevnetState } from '../devnet/devnet.js';
import { errorMessage, PaymentError } from '../internal/errors.js';
import { defaultOptions } from '../internal/options.js';
import { redactUrls } from '../internal/redact.js';
import { suggestFees } from '../payouts/fees.js';
import { createDatabase, type DatabaseHandle } from '../store/db.js';
import { migrateToLatest } from '../store/migrate.js';
import { parseMasterKey } from '../vault/master-key.js';
import { createVault } from '../vault/vault.js';
import { reportStartError, resolveConfigSource } from './start.js';

export interface DeployBatcherFlags {
  chain?: string;
  config?: string;
}

/** Errors the operator fixes (exit 2), as opposed to a node or database failure (exit 1). */
const OPERATOR_ERRORS = new Set([
  'no_config',
  'master_key_missing',
  'master_key_invalid',
  'master_key_wrong',
]);

/** How long the node gets for each answer, and the deployment to be mined. */
const NODE_TIMEOUT_MS = 10_000;
const MINED_TIMEOUT_MS = 300_000;

/** `m2pool-payment contracts …`: the project's own contracts on chain. */
export function addContractCommands(program: Command): void {
  const contracts = program.command('contracts').description("the project's own contracts on chain");
  contracts
    .command('deploy-batcher')
    .description(
      "deploy the batcher (batch payouts, PROTOCOL §2.13) from the chain's collection wallet and print its address",
    )
    .requiredOption('--chain <name>', 'the chain to deploy on')
    .option(
      '--config <path>',
      'config file (default: CONFIG_PATH, else ./config.json; none: the devnet under ./data)',
    )
    .action(async (flags: DeployBatcherFlags) => {
      process.exitCode = await runDeployBatcher(flags);
    });
}

/**
 * `contracts deploy-batcher --chain NAME [--config PATH]`: deploys contracts/Batcher.sol owned by the
 * chain's collection wallet, signed with that wallet's key from the vault (PAYMENT_MASTER_KEY, or the
 * devnet's), at the fees a payout would get; waits for it to be mined and prints the contract's address,
 * the one line on stdout, for the chain's `batch.address`. Resolves with the exit code: 2 for what the
 * operator fixes (chain, collection wallet, key, config), 1 for a node or deployment failure.
 */
export async function runDeployBatcher(
  flags: DeployBatcherFlags,
  options: { env?: NodeJS.ProcessEnv; devnetDir?: string } = {},
): Promise<number> {
  const env = options.env ?? process.env;
  let handle: DatabaseHandle | undefined;
  try {
    const target = resolveTarget(flags, env, options.devnetDir ?? './data');
    const chain = target.chains.find((c) => c.name.toLowerCase() === (flags.chain ?? '').toLowerCase());
    if (!chain) {
      console.error(
        `error: no chain ${flags.chain ?? '(none given: --chain NAME)'} in the config (${target.chains.map((c) => c.name).join(', ')})`,
      );
      return 2;
    }
    const owner = chain.collectionAddressLc;
    if (!owner) {
      console.error(
        `error: ${chain.name} has no collectionAddress: the batcher is owned by the collection wallet`,
      );
      return 2;
    }
    const masterKey = parseMasterKey(target.masterKeyText);
    handle = await createDatabase(target.db);
    await migrateToLatest(handle.db);
    const vault = createVault({ db: handle.db, masterKey });
    await vault.verifyMasterKey();
    if (!(await vault.has(owner))) {
      console.error(
        `error: the vault holds no key for ${chain.name}'s collection wallet ${owner}: import it first (m2pool-payment wallet import)`,
      );
      return 2;
    }
    return await deployOn(chain, owner, (tx) => vault.signTransaction(owner, tx));
  } catch (err) {
    if (err instanceof PaymentError && OPERATOR_ERRORS.has(err.code)) {
      console.error(`error: ${err.message}`);
      return 2;
    }
    return reportStartError(err);
  } finally {
    await handle?.close();
  }
}

async function deployOn(
  chain: ChainConfig,
  owner: `0x${string}`,
  signTransaction: Parameters<typeof deployBatcher>[0]['signTransaction'],
): Promise<number> {
  try {
    const client = createPayoutClient(chain.rpcUrls, {
      ...defaultOptions.payouts,
      rpcTimeoutMs: NODE_TIMEOUT_MS,
    });
    const chainId = await client.getChainId();
    if (chain.chainId !== undefined && chainId !== chain.chainId) {
      console.error(
        `error: ${chain.name}'s node is on chain ${chainId}, not the configured ${chain.chainId}`,
      );
      return 1;
    }
    const deployed = await deployBatcher({
      client,
      from: owner,
      chainId,
      // A payout's fees: the chain's cap holds for this transaction of the collection wallet too.
      fees: await suggestFees(client, chain.maxFeePerGasWei),
      signTransaction,
      timeoutMs: MINED_TIMEOUT_MS,
    });
    console.log(deployed.address);
    return 0;
  } catch (err) {
    // Scheme and host only: a provider's key in the URL never prints.
    const message = errorMessage(err).split('\n')[0] ?? 'no answer';
    console.error(`error: ${chain.name}: ${redactUrls(message)}`);
    return 1;
  }
}

function resolveTarget(
  flags: { config?: string },
  env: NodeJS.ProcessEnv,
  devnetDir: string,
): { db: DbConfig; masterKeyText: string | undefined; chains: ChainConfig[] } {
  const source = resolveConfigSource(flags, env);
  if (!source.devnet) {
    const config = loadConfig({ path: source.path, env });
    return { db: config.db, masterKeyText: env.PAYMENT_MASTER_KEY, chains: config.chains };
  }
  // The devnet's config of its last start, and the master key it generated for its vault.
  const state = loadDevnetState(devnetDir);
  const config = loadDevnetConfig(devnetDir);
  if (!state || !config) {
    throw new PaymentError(
      'no_config',
      `no config file (pass --config PATH, set CONFIG_PATH or create ./config.json) and no devnet under ${devnetDir}`,
    );
  }
  return { db: devnetDbConfig(devnetDir), masterKeyText: state.masterKey, chains: config.chains };
}
