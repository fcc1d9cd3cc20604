import { formatHistoryLine, historyJson } from '../audit/history.js';
import { loadConfig } from '../config/load.js';
import type { DbConfig } from '../config/types.js';
import { devnetDbConfig, loadDevnetState } from '../devnet/devnet.js';
import { PaymentError } from '../internal/errors.js';
import { createDatabase, type DatabaseHandle } from '../store/db.js';
import { migrateToLatest } from '../store/migrate.js';
import { type HistoryQuery, readHistory } from '../store/repos/audit.js';
import { reportStartError, resolveConfigSource } from './start.js';

export interface AuditFlags {
  queueId?: string;
  tx?: string;
  config?: string;
  json?: boolean;
}

const TX_HASH = /^0x[0-9a-fA-F]{64}$/;

/**
 * `m2pool-payment audit --queue-id ID | --tx HASH`: the audit history of a payout, or of the deposits
 * and payouts of a transaction, from the database of `start` (the config file, or the devnet's under
 * ./data), migrated first. Exit 0 with the history, 1 when nothing is known, 2 for a usage error.
 */
export async function runAudit(
  flags: AuditFlags,
  options: { env?: NodeJS.ProcessEnv; devnetDir?: string } = {},
): Promise<number> {
  const query = parseQuery(flags);
  if (typeof query === 'string') {
    console.error(`error: ${query}`);
    return 2;
  }
  let handle: DatabaseHandle | undefined;
  try {
    handle = await createDatabase(
      resolveDb(flags, options.env ?? process.env, options.devnetDir ?? './data'),
    );
    await migrateToLatest(handle.db);
    const rows = await readHistory(handle.db, query);
    if (rows.length === 0) {
      const what =
        'queueId' in query ? `payout with queue_id ${query.queueId}` : `transaction ${query.txHash}`;
      console.error(`no audit history for ${what}`);
      return 1;
    }
    if (flags.json) console.log(JSON.stringify(rows.map(historyJson), null, 2));
    else for (const row of rows) console.log(formatHistoryLine(row));
    return 0;
  } catch (err) {
    return reportStartError(err);
  } finally {
    await handle?.close();
  }
}

function parseQuery(flags: AuditFlags): HistoryQuery | string {
  if (Boolean(flags.queueId) === Boolean(flags.tx)) return 'pass exactly one of --queue-id ID or --tx HASH';
  if (flags.queueId) return { queueId: flags.queueId };
  if (!TX_HASH.test(flags.tx!)) return `not a transaction hash: ${flags.tx} (0x and 64 hex digits)`;
  return { txHash: flags.tx!.toLowerCase() };
}

function resolveDb(flags: { config?: string }, env: NodeJS.ProcessEnv, devnetDir: string): DbConfig {
  const source = resolveConfigSource(flags, env);
  if (!source.devnet) return loadConfig({ path: source.path, env }).db;
  if (!loadDevnetState(devnetDir)) {
    throw new PaymentError(
      'no_config',
      `no config file (pass --config PATH, set CONFIG_PATH or create ./config.json) and no devnet under ${devnetDir}`,
    );
  }
  return devnetDbConfig(devnetDir);
}
