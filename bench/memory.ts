import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Config } from '../src/config/types.js';
import { startServiceChild } from './child.js';
import type { BenchDb, BenchOptions } from './options.js';
import type { Figure } from './report.js';
import { createBenchDatabase } from './watched.js';

const MiB = 1024 * 1024;
const bareScript = fileURLToPath(new URL('./bare-idle-child.ts', import.meta.url));

/** RSS of an idle child after its start settled, after GC: the lowest of three readings. */
async function idleRss(config: Config, logFile: string, script?: string): Promise<number> {
  const child = await startServiceChild({ config, tuning: { httpPort: 0 }, logFile, script });
  try {
    await sleep(1_500);
    const readings: number[] = [];
    for (let i = 0; i < 3; i++) {
      readings.push((await child.request({ type: 'memory', gc: true }, 'memory')).rss);
      await sleep(200);
    }
    return Math.min(...readings);
  } finally {
    await child.stop();
  }
}

export interface MemoryInputs {
  /** The service's config on a given database. */
  configFor(db: Config['db']): Config;
  /** The database of the other parts, with `opts.watched` watched addresses. */
  watchedDb: Config['db'];
  /** Peak RSS of the ingest child (bytes), when the ingest ran. */
  ingestPeakRss: number | undefined;
  /** Peak RSS of the payout child (bytes), when the payout part ran. */
  payoutPeakRss: number | undefined;
}

/**
 * memory_idle: an idle service on an empty database against a bare process holding the same connections
 * (bare-idle-child.ts); memory_watched: the idle service on the database with `watched` addresses
 * against the idle service on the empty one. Resident memory after GC, which includes the TypeScript
 * loader both run under.
 */
export async function runMemory(
  inputs: MemoryInputs,
  db: BenchDb,
  opts: BenchOptions,
  workDir: string,
): Promise<Figure[]> {
  const empty = await createBenchDatabase(db);
  try {
    const log = (name: string) => join(workDir, `memory-${db}-${name}.log`);
    const emptyConfig = inputs.configFor(empty.config);
    // Side by side: resident memory is the process's own, and three starts at once take less time.
    const [bare, idle, watched] = await Promise.all([
      idleRss(emptyConfig, log('bare'), bareScript),
      idleRss(emptyConfig, log('idle')),
      idleRss(inputs.configFor(inputs.watchedDb), log('watched')),
    ]);
    const idleLabel = 'the idle service with 0 watched addresses';
    const figures: Figure[] = [
      {
        name: 'memory_idle',
        db,
        value: idle / MiB,
        unit: 'MiB',
        baseline: bare / MiB,
        baselineLabel:
          'a bare process with the same connections (node, ws, viem, DB driver, rabbitmq-client)',
        note: 'RSS after GC, lowest of 3 readings, empty database',
      },
      {
        name: 'memory_watched',
        db,
        value: watched / MiB,
        unit: 'MiB',
        baseline: idle / MiB,
        baselineLabel: idleLabel,
        note: `${opts.watched} watched addresses (and the other parts' deposits) in the database; ${((watched - idle) / Math.max(opts.watched, 1)).toFixed(1)} bytes per watched address: the service asks the database per block and keeps no watched set`,
      },
    ];
    for (const [name, peak, what] of [
      ['memory_ingest_peak', inputs.ingestPeakRss, 'the deposit ingest'],
      ['memory_payout_peak', inputs.payoutPeakRss, `the payout run (${opts.payouts} withdrawals)`],
    ] as const) {
      if (peak === undefined) continue;
      figures.push({
        name,
        db,
        value: peak / MiB,
        unit: 'MiB',
        baseline: idle / MiB,
        baselineLabel: idleLabel,
        note: `peak RSS (getrusage maxrss) of the service during ${what}`,
      });
    }
    return figures;
  } finally {
    await empty.cleanup();
  }
}
