import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryCompiler,
  type QueryResult,
  type RootOperationNode,
  type SelectQueryNode,
  SqliteAdapter,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
  SqliteQueryCompiler,
  type UnknownRow,
} from 'kysely';
import type { SqliteDbConfig } from '../config/types.js';
import type { Logger } from '../internal/logger.js';
import { toSafeNumber } from './integers.js';

/** How long a writer waits for another process's write lock before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 10_000;

export interface SqliteParts {
  dialect: Dialect;
  plugins: KyselyPlugin[];
}

/** Opens the file (creating its folder) now, so a bad path fails at start rather than on first use. */
export function createSqliteParts(config: SqliteDbConfig, logger?: Logger): SqliteParts {
  if (config.file !== ':memory:') mkdirSync(dirname(config.file), { recursive: true });
  const sqlite = new BetterSqlite3(config.file, { timeout: BUSY_TIMEOUT_MS });
  const journal = sqlite.pragma('journal_mode = WAL', { simple: true });
  if (journal !== 'wal') logger?.warn({ file: config.file, journal }, 'sqlite: WAL mode unavailable');
  sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // NORMAL in WAL mode: a crash of the process loses nothing; only an OS crash or power loss may
  // lose the last commits.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  // Integers come back as bigint so the plugin below can refuse the ones a number would round.
  sqlite.defaultSafeIntegers(true);
  cacheStatements(sqlite);
  logger?.debug({ file: config.file }, 'sqlite: opened');
  return { dialect: new PaymentSqliteDialect({ database: sqlite }), plugins: [safeIntegersPlugin] };
}

/** Statements kept prepared, by SQL text. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * Reuses prepared statements: kysely prepares every query anew, and preparing a 500-row insert costs more
 * than running it. better-sqlite3 runs one statement at a time on one connection, so sharing is safe; the
 * one exception, a statement being iterated, is never used here (no streaming queries).
 */
function cacheStatements(sqlite: BetterSqlite3.Database) {
  const cache = new Map<string, BetterSqlite3.Statement>();
  const prepare = sqlite.prepare.bind(sqlite);
  sqlite.prepare = ((source: string) => {
    let statement = cache.get(source);
    if (!statement) {
      statement = prepare(source);
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
      cache.set(source, statement);
    }
    return statement;
  }) as typeof sqlite.prepare;
}

/**
 * Kysely's SqliteDialect with three changes:
 * - transactions start with BEGIN IMMEDIATE: they take the write lock at once, waiting up to
 *   busy_timeout for another process. A deferred BEGIN that reads and then writes fails with
 *   SQLITE_BUSY at once when another process wrote meanwhile (no wait is possible then).
 * - migrations run in one such transaction: kysely's own SQLite adapter runs them with neither a
 *   transaction nor a lock (kysely issue #729), so two processes starting together both ran them.
 *   The cost: PRAGMA foreign_keys cannot change inside a migration (it is ignored there).
 * - row-lock clauses (FOR UPDATE, SKIP LOCKED, ...) are dropped, so repositories can write
 *   `.forUpdate()` once for MySQL: on SQLite the transaction already holds the only write lock.
 * Within this process kysely's driver has one connection behind a mutex, so transactions from
 * concurrent callers run one after another. Inside `transaction().execute(trx => …)` use `trx`
 * only: a query on the outer `db` would wait for that mutex forever.
 */
class PaymentSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }

  override createQueryCompiler(): QueryCompiler {
    return new LocklessSqliteQueryCompiler();
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

const LOCK_MODIFIERS = new Set([
  'ForUpdate',
  'ForNoKeyUpdate',
  'ForShare',
  'ForKeyShare',
  'NoWait',
  'SkipLocked',
]);

class LocklessSqliteQueryCompiler extends SqliteQueryCompiler {
  protected override visitSelectQuery(node: SelectQueryNode): void {
    const endModifiers = node.endModifiers?.filter((m) => !m.modifier || !LOCK_MODIFIERS.has(m.modifier));
    super.visitSelectQuery(endModifiers ? { ...node, endModifiers } : node);
  }
}

const safeIntegersPlugin: KyselyPlugin = {
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  },
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    for (const row of args.result.rows) {
      for (const [key, value] of Object.entries(row)) {
        if (typeof value === 'bigint') row[key] = toSafeNumber(value, key);
      }
    }
    return args.result;
  },
};
