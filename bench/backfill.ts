import type { Config } from '../src/config/types.js';
import type { TransferRange } from './chain.js';
import { startServiceChild } from './child.js';

export interface BackfillRun {
  /** From the watcher's 'backfill started' to the commit of the range's last block. */
  seconds: number;
  /** The service's CPU time over the same span. */
  cpuSeconds: number;
  /** From before `start()` to the same commit: the process start included. */
  coldSeconds: number;
  /** Deposits the service stored in the range's blocks. */
  deposits: number;
  /** Peak resident memory of the service child (bytes). */
  maxRss: number;
}

/**
 * A service child whose cursor is behind `range` (or, on an empty database, starts at its first block)
 * takes it by eth_getLogs ranges; timed from its 'backfill started' log line until the block event of
 * the range's last block, i.e. until the deposits, outbox rows, audit rows and cursor are committed.
 */
export async function timeServiceBackfill(
  config: Config,
  range: TransferRange,
  logFile: string,
  profileDir: string | undefined,
): Promise<BackfillRun> {
  const child = await startServiceChild({
    config,
    tuning: { watcher: { startBlock: range.fromBlock }, httpPort: 0 },
    logFile,
    profileDir,
  });
  try {
    const starting = await child.waitFor('starting');
    const began = await child.waitFor('backfill');
    const done = await child.waitFor('block', (b) => b.number >= range.toBlock, 600_000);
    const counts = await child.request(
      { type: 'counts', fromBlock: range.fromBlock, toBlock: range.toBlock },
      'counts',
    );
    const { maxRss } = await child.request({ type: 'memory', gc: false }, 'memory');
    return {
      seconds: (done.at - began.at) / 1000,
      cpuSeconds: (done.cpuUs - began.cpuUs) / 1e6,
      coldSeconds: (done.at - starting.at) / 1000,
      deposits: counts.deposits,
      maxRss,
    };
  } finally {
    await child.stop();
  }
}
