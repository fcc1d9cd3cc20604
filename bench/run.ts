/**
 * `npm run bench`: the service's speed on a local anvil, RabbitMQ and each database, every figure against
 * a baseline measured in the same run that does the same work without the service. Prints
 * `bench <figure> <db> <value> <unit>`, `baseline <figure> <db> <value> <unit>` and
 * `ratio <figure> <db> <value> (goal …)` lines, then a table; progress goes to stderr.
 * Environment (sizes and defaults in options.ts):
 *   BENCH_DB=both          both (default), sqlite (temp file, WAL) or mysql (MariaDB on 127.0.0.1:3306)
 *   BENCH_QUICK=1          everything scaled down (the test's smoke run)
 *   BENCH_ONLY=scan,ingest,latency,payout,gas,instances,memory   the parts to run (default all; instances
 *                          on MariaDB only: SQLite is one instance per file)
 *   BENCH_SCAN_LOGS=n, BENCH_SCAN_WATCHED_PCT=p    the scan range (20,000 logs, 1% watched)
 *   BENCH_INGEST_LOGS=n, BENCH_INGEST_RECIPIENTS=n the ingest range (10,000 logs to 5,000 recipients)
 *   BENCH_WATCHED=n        watched addresses in each database (1,000,000)
 *   BENCH_LATENCY_BLOCKS=n, BENCH_LATENCY_INTERVAL_MS=ms  latency samples (25 blocks, one a second)
 *   BENCH_PAYOUTS=n        withdrawals in the payout part (500)
 *   BENCH_GAS_PAYOUTS=n    withdrawals in the gas part, batched and one by one (100)
 *   BENCH_INSTANCE_PAYOUTS=n  withdrawals over 10 wallets in the instances part, 1 then 3 instances (600)
 *   BENCH_INSTANCE_RPC_DELAY_MS=n  the instances part's node n ms of round trip away, through a proxy (0)
 *   BENCH_PROFILE=dir      CPU profile of each service child; read with bench/profile-summary.ts
 *   BENCH_KEEP=1           keep the service logs (a temp folder, printed at the end)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { resolveAnvilBinary } from '../src/chain/anvil.js';
import type { Config } from '../src/config/types.js';
import type { TestDatabase } from '../test/helpers/db.js';
import { createTestQueues, type TestQueues } from '../test/helpers/rabbit.js';
import { testConfig } from '../test/helpers/service.js';
import { startBenchChain } from './chain.js';
import { planIngestRecipients, putIngestRange, runDepositIngest } from './deposit-ingest.js';
import { runDepositLatency } from './deposit-latency.js';
import { planScan, putScanRange, runDepositScan } from './deposit-scan.js';
import { runMemory } from './memory.js';
import { type BenchDb, benchOptions } from './options.js';
import { runPayoutBench } from './payout.js';
import { runPayoutGas } from './payout-gas.js';
import { runPayoutInstances } from './payout-instances.js';
import { type Figure, figureLines, figureTable } from './report.js';
import { createBenchDatabase, loadWatched } from './watched.js';

const opts = benchOptions();
const workDir = mkdtempSync(join(tmpdir(), 'm2p-bench-'));
const cleanups: (() => Promise<unknown>)[] = [];
const started = Date.now();

function progress(text: string) {
  process.stderr.write(`# ${((Date.now() - started) / 1000).toFixed(1)}s ${text}\n`);
}

async function cleanup() {
  while (cleanups.length > 0) await cleanups.pop()!().catch((err) => progress(`cleanup: ${err}`));
}
process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));

function machineNotes(): string[] {
  const cpu = cpus();
  let anvil = '?';
  try {
    anvil = execFileSync(resolveAnvilBinary(), ['--version']).toString().split('\n')[0] ?? '?';
  } catch {}
  return [
    `machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}, ${anvil}`,
    `databases: ${opts.dbs.join(', ')} (SQLite: temp file, WAL; MariaDB: 127.0.0.1:3306); RabbitMQ 127.0.0.1:5672; anvil --no-mining, blocks by evm_mine`,
    `sizes: scan ${opts.scanLogs} logs (${opts.scanWatchedPct}% watched), ingest ${opts.ingestLogs} logs to ${opts.ingestRecipients} recipients, ${opts.watched} watched, ${opts.logsPerTx} logs/tx, ${opts.logsPerBlock} logs/block, confirmHeight ${opts.confirmHeight}; latency ${opts.latencyBlocks} blocks every ${opts.latencyIntervalMs} ms; ${opts.payouts} payouts, ${opts.instancePayouts} over 10 wallets for the instances${opts.quick ? ' (BENCH_QUICK)' : ''}`,
  ];
}

/** One database's share of the run: the database with the watched addresses, and queues of its own. */
interface DbRun {
  kind: BenchDb;
  store: TestDatabase;
  queues: TestQueues;
  configFor(db: Config['db']): Config;
  config: Config;
}

let failed = false;
try {
  const bc = await startBenchChain();
  cleanups.push(() => bc.stop());
  const scan = planScan(opts);
  const ingestRecipients = planIngestRecipients(opts);

  const runs: DbRun[] = [];
  for (const kind of opts.dbs) {
    const store = await createBenchDatabase(kind);
    cleanups.push(() => store.cleanup());
    const queues = createTestQueues();
    cleanups.push(() => queues.cleanup());
    // Only the parts that use this database need the watched addresses (the payout ones make their own).
    if (['scan', 'ingest', 'latency', 'memory'].some((part) => opts.only.has(part))) {
      progress(`${kind}: loading ${opts.watched} watched addresses`);
      await loadWatched(store.config, [...scan.watched, ...ingestRecipients], opts.watched);
    }
    const configFor = (db: Config['db']) =>
      testConfig({ chain: bc.chain, queues, db, confirmHeight: opts.confirmHeight });
    runs.push({ kind, store, queues, configFor, config: configFor(store.config) });
  }
  const log = (part: string, run: DbRun) => join(workDir, `${part}-${run.kind}.log`);
  const figures: Figure[] = [];
  const peaks = new Map<BenchDb, { ingest?: number; payout?: number }>(opts.dbs.map((k) => [k, {}]));

  if (opts.only.has('scan')) {
    progress(`putting the scan range on chain: ${opts.scanLogs} Transfer logs`);
    const range = await putScanRange(bc, scan, opts);
    for (const run of runs) {
      progress(`deposit_scan (${run.kind}): blocks ${range.fromBlock}..${range.toBlock}`);
      figures.push(await runDepositScan(run.config, run.kind, range, scan, opts, log('scan', run)));
    }
  }
  if (opts.only.has('ingest')) {
    progress(`putting the ingest range on chain: ${opts.ingestLogs} Transfer logs`);
    const range = await putIngestRange(bc, ingestRecipients, opts);
    for (const run of runs) {
      progress(`deposit_ingest (${run.kind}): blocks ${range.fromBlock}..${range.toBlock}`);
      const result = await runDepositIngest(run.config, run.kind, range, opts, log('ingest', run));
      figures.push(result.figure);
      peaks.get(run.kind)!.ingest = result.peakRss;
    }
  }
  if (opts.only.has('latency')) {
    for (const run of runs) {
      progress(
        `deposit_latency (${run.kind}): ${opts.latencyBlocks} blocks, one every ${opts.latencyIntervalMs} ms`,
      );
      figures.push(
        ...(await runDepositLatency(bc, run.config, run.kind, ingestRecipients, opts, log('latency', run))),
      );
    }
  }
  if (opts.only.has('payout')) {
    for (const run of runs) {
      progress(`payout_broadcast (${run.kind}): ${opts.payouts} withdrawals from one wallet`);
      const result = await runPayoutBench(bc, run.queues, run.kind, opts, log('payout', run), progress);
      figures.push(result.figure);
      peaks.get(run.kind)!.payout = result.peakRss;
    }
  }
  if (opts.only.has('gas')) {
    for (const run of runs) figures.push(await runPayoutGas(run.kind, opts.gasPayouts, progress));
  }
  if (opts.only.has('instances')) {
    const run = runs.find((r) => r.kind === 'mysql');
    if (!run) progress('instances: skipped, it runs on MariaDB only (BENCH_DB=mysql or both)');
    else {
      progress(`payouts_1_instance / payouts_3_instances (mysql): ${opts.instancePayouts} withdrawals`);
      const logFile = (name: string) => join(workDir, `instances-${name}.log`);
      figures.push(await runPayoutInstances(bc, run.queues, opts, logFile, progress));
    }
  }
  if (opts.only.has('memory')) {
    for (const run of runs) {
      progress(`memory (${run.kind})`);
      const peak = peaks.get(run.kind)!;
      const inputs = {
        configFor: run.configFor,
        watchedDb: run.store.config,
        ingestPeakRss: peak.ingest,
        payoutPeakRss: peak.payout,
      };
      figures.push(...(await runMemory(inputs, run.kind, opts, workDir)));
    }
  }

  // Each figure's databases together, figures in the order they were first measured.
  const order = [...new Set(figures.map((f) => f.name))];
  figures.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  console.log(figureLines(figures).join('\n'));
  console.log();
  console.log(machineNotes().join('\n'));
  console.log();
  console.log(figureTable(figures));
  progress('done');
} catch (err) {
  failed = true;
  console.error(err);
  console.error(`service logs kept in ${workDir}`);
  process.exitCode = 1;
} finally {
  await cleanup();
  if (!failed && !process.env.BENCH_KEEP) rmSync(workDir, { recursive: true, force: true });
  else console.error(`logs in ${workDir}`);
}
