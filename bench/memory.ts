import { fork } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Config } from '../src/config/types.js';
import { startServiceChild } from './child.js';
import type { BenchOptions } from './options.js';
import type { Figure } from './report.js';
import { createBenchDatabase, loadWatched } from './watched.js';

const MiB = 1024 * 1024;

/** RSS of an idle service child (after its start settled, after GC): the lowest of three readings. */
async function idleRss(config: Config, logFile: string): Promise<number> {
  const child = await startServiceChild({ config, tuning: { httpPort: 0 }, logFile });
  try {
    await sleep(2_000);
    const readings: number[] = [];
    for (let i = 0; i < 3; i++) {
      readings.push((await child.request({ type: 'memory', gc: true }, 'memory')).rss);
      await sleep(300);
    }
    return Math.min(...readings);
  } finally {
    await child.stop();
  }
}

/** Two processes of each kind, alternating; the lower of each pair (RSS of equal processes varies by MBs). */
async function idlePair(configs: [Config, Config], workDir: string): Promise<[number, number]> {
  const best: [number, number] = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
  for (let round = 0; round < 2; round++) {
    for (const k of [0, 1] as const) {
      const rss = await idleRss(configs[k], join(workDir, `memory-${k}-${round}.log`));
      best[k] = Math.min(best[k], rss);
    }
  }
  return best;
}

/** The baseline for bytes per address: a plain Set of 0x-addresses in a process of its own. */
function naiveSetBytesPerAddress(n: number): Promise<number> {
  const script = fileURLToPath(new URL('./set-child.ts', import.meta.url));
  const child = fork(script, [String(n)], { execArgv: ['--import', 'tsx', '--expose-gc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { bytesPerAddress: number }) => resolve(m.bytesPerAddress));
    child.once('exit', (code) => reject(new Error(`set-child exited with ${code}`)));
  });
}

export interface MemoryInputs {
  /** The service's config for a given database. */
  configFor(db: Config['db']): Config;
  /** Peak RSS of the ingest child (bytes). */
  ingestPeakRss: number;
  /** Peak RSS of the payout child (bytes); undefined when the payout part did not run. */
  payoutPeakRss: number | undefined;
}

export async function runMemory(
  inputs: MemoryInputs,
  opts: BenchOptions,
  workDir: string,
): Promise<Figure[]> {
  const empty = await createBenchDatabase(opts.db);
  const full = await createBenchDatabase(opts.db);
  try {
    await loadWatched(full.config, [], opts.watched);
    const [rss0, rssN] = await idlePair(
      [inputs.configFor(empty.config), inputs.configFor(full.config)],
      workDir,
    );
    const naive = await naiveSetBytesPerAddress(opts.watched);
    const perAddress = (rssN - rss0) / opts.watched;
    const idleLabel = 'idle service, 0 watched addresses';
    const figures: Figure[] = [
      {
        name: 'memory_idle_0',
        value: rss0 / MiB,
        unit: 'MiB',
        baseline: rss0 / MiB,
        baselineLabel: idleLabel,
      },
      {
        name: 'memory_idle_watched',
        value: rssN / MiB,
        unit: 'MiB',
        baseline: rss0 / MiB,
        baselineLabel: idleLabel,
        note: `${opts.watched} watched addresses; RSS after GC, lowest of 3 readings in each of 2 processes; the service keeps no in-memory watched set (it asks the database per block)`,
      },
      {
        name: 'memory_per_watched_address',
        value: perAddress,
        unit: 'bytes',
        baseline: naive,
        baselineLabel: 'a plain JS Set of the addresses (separate process)',
        target: '< 200 (200 MB per 1,000,000)',
        // Below ~100,000 addresses the difference is inside the RSS noise between two processes.
        met: opts.watched >= 100_000 ? perAddress < 200 : undefined,
        note: `(RSS with ${opts.watched} watched − RSS with 0) / ${opts.watched}; each the lower of two idle processes`,
      },
      {
        name: 'memory_ingest_peak',
        value: inputs.ingestPeakRss / MiB,
        unit: 'MiB',
        baseline: rss0 / MiB,
        baselineLabel: idleLabel,
        note: 'peak RSS (getrusage maxrss) of the service during the deposit ingest',
      },
    ];
    if (inputs.payoutPeakRss !== undefined) {
      figures.push({
        name: 'memory_payout_peak',
        value: inputs.payoutPeakRss / MiB,
        unit: 'MiB',
        baseline: rss0 / MiB,
        baselineLabel: idleLabel,
        note: `peak RSS (getrusage maxrss) of the service during the payout run (${opts.payouts} withdrawals from one wallet)`,
      });
    }
    return figures;
  } finally {
    await empty.cleanup();
    await full.cleanup();
  }
}
