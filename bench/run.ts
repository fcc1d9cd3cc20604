/**
 * `npm run bench`: the service's speed on a local anvil, RabbitMQ and SQLite. Prints
 * `bench <name> <value> <unit>` and `ratio <name> <value>` lines, then a table; progress goes to stderr.
 * Environment (sizes and defaults in options.ts):
 *   BENCH_QUICK=1          everything scaled down (a smoke run of ~30 s)
 *   BENCH_DB=mysql         MariaDB on 127.0.0.1:3306 instead of SQLite
 *   BENCH_ONLY=latency     skip parts (ingest,latency,payout,memory); the ingest always runs
 *   BENCH_LATENCY_BLOCKS=n more latency samples (4 transfers a block, one block a second)
 *   BENCH_PAYOUTS=n        withdrawals in the payout bench (default 2,000; 200 with BENCH_QUICK)
 *   BENCH_PAYOUT_CONFIRM_HEIGHT=n  confirmHeight of the payout bench's service (default BENCH_CONFIRM_HEIGHT; 3 with BENCH_QUICK)
 *   BENCH_PROFILE=dir      CPU profile of each service child; read with bench/profile-summary.ts
 *   BENCH_KEEP=1           keep the service logs (a temp folder, printed at the end)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { resolveAnvilBinary } from '../src/chain/anvil.js';
import type { Config } from '../src/config/types.js';
import { createTestQueues } from '../test/helpers/rabbit.js';
import { testConfig } from '../test/helpers/service.js';
import { startBenchChain } from './chain.js';
import { putIngestTransfers, runDepositIngest } from './deposit-ingest.js';
import { runDepositLatency } from './deposit-latency.js';
import { runMemory } from './memory.js';
import { benchOptions } from './options.js';
import { runPayoutBench } from './payout.js';
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
    `database: ${opts.db === 'mysql' ? 'MariaDB 127.0.0.1:3306' : 'SQLite (temp file, WAL)'}; RabbitMQ 127.0.0.1:5672; anvil --no-mining, blocks by evm_mine`,
    `sizes: ${opts.ingestLogs} ingest logs, ${opts.ingestRecipients} recipients, ${opts.watched} watched, ${opts.logsPerTx} logs/tx (multiTransfer), ${opts.logsPerBlock} logs/block, confirmHeight ${opts.confirmHeight}; ${opts.payouts} payouts, confirmHeight ${opts.payoutConfirmHeight}${opts.quick ? ' (BENCH_QUICK)' : ''}`,
  ];
}

let failed = false;
try {
  const bc = await startBenchChain();
  cleanups.push(() => bc.stop());
  const queues = createTestQueues();
  cleanups.push(() => queues.cleanup());
  const configFor = (db: Config['db']): Config =>
    testConfig({ chain: bc.chain, queues, db, confirmHeight: opts.confirmHeight });

  progress(`putting ${opts.ingestLogs} Transfer logs on chain`);
  const data = await putIngestTransfers(bc, opts);
  progress(`blocks ${data.fromBlock}..${data.toBlock}; loading ${opts.watched} watched addresses`);
  const db = await createBenchDatabase(opts.db);
  cleanups.push(() => db.cleanup());
  await loadWatched(db.config, data.recipients, opts.watched);

  // The ingest also leaves the cursor at the head for the latency run, so it always runs.
  progress('1. deposit ingest');
  const ingest = await runDepositIngest(configFor(db.config), data, opts, join(workDir, 'ingest.log'));
  progress(`2. deposit latency (${opts.latencyBlocks} blocks, one a second)`);
  const latency = opts.only.has('latency')
    ? await runDepositLatency(bc, configFor(db.config), data.recipients, opts, join(workDir, 'latency.log'))
    : [];
  progress(`3. payout throughput (${opts.payouts} withdrawals from one wallet)`);
  const payout = opts.only.has('payout')
    ? await runPayoutBench(bc, queues, opts, join(workDir, 'payout.log'), progress)
    : undefined;
  progress('4. memory');
  const memory = opts.only.has('memory')
    ? await runMemory(
        { configFor, ingestPeakRss: ingest.peakRss, payoutPeakRss: payout?.peakRss },
        opts,
        workDir,
      )
    : [];

  const figures: Figure[] = [...ingest.figures, ...latency, ...(payout?.figures ?? []), ...memory];
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
