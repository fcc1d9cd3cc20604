import type { Address } from 'viem';
import type { Config } from '../src/config/types.js';
import { TEST_SIGN_KEY } from '../test/helpers/service.js';
import { timeServiceBackfill } from './backfill.js';
import { BARE_CHAIN, bareIngest } from './bare-ingest.js';
import { readRangesBare } from './bare-logs.js';
import { type BenchChain, putTransferRange, randomAddresses, type TransferRange } from './chain.js';
import type { BenchDb, BenchOptions } from './options.js';
import type { Figure } from './report.js';
import { markOutboxSent } from './watched.js';

export function planIngestRecipients(opts: BenchOptions): Address[] {
  return randomAddresses(opts.ingestRecipients);
}

/** The ingest range: every log to one of `recipients` (all watched). */
export function putIngestRange(
  bc: BenchChain,
  recipients: Address[],
  opts: BenchOptions,
): Promise<TransferRange> {
  return putTransferRange(bc, (i) => recipients[i % recipients.length]!, { ...opts, logs: opts.ingestLogs });
}

export interface IngestResult {
  figure: Figure;
  /** Peak resident memory of the service child during the ingest (bytes). */
  peakRss: number;
}

/**
 * deposit_ingest: every log of the range goes to a watched address, so each becomes a deposit (final at
 * once: the range is deeper than confirmHeight) with two outbox rows and two audit rows. The service
 * takes the range by backfill from its cursor; then the baseline (bare-ingest.ts) reads the same ranges
 * and inserts the same rows into the same database, one transaction per range.
 */
export async function runDepositIngest(
  config: Config,
  db: BenchDb,
  range: TransferRange,
  opts: BenchOptions,
  logFile: string,
): Promise<IngestResult> {
  const token = config.chain.tokens[0]!.addressLc;
  // The answers of the scan must not be published during this measurement.
  await markOutboxSent(config.db);
  // The node's first pass over these blocks (its caches) is paid here, by neither side.
  await readRangesBare(config.chain.rpcUrl, token, range.fromBlock, range.toBlock);
  const run = await timeServiceBackfill(config, range, logFile, opts.profileDir);
  if (run.deposits !== range.logs)
    throw new Error(`deposit_ingest: ${run.deposits} deposits stored, expected ${range.logs}`);
  const bare = await bareIngest(config, TEST_SIGN_KEY, range.fromBlock, range.toBlock);
  if (bare.deposits !== range.logs)
    throw new Error(`deposit_ingest baseline: ${bare.deposits} deposits, expected ${range.logs}`);
  // Neither the service's answers nor the baseline's rows are published later.
  await markOutboxSent(config.db);
  const blocks = range.toBlock - range.fromBlock + 1;
  return {
    peakRss: run.maxRss,
    figure: {
      name: 'deposit_ingest',
      db,
      value: range.logs / run.seconds,
      unit: 'logs/s',
      baseline: range.logs / bare.seconds,
      baselineLabel: `bare eth_getLogs + decode + watched lookup + insert of the same rows (chain ${BARE_CHAIN}), one transaction per range`,
      goal: { op: '≥', ratio: 0.5 },
      note: `${range.logs} logs in ${blocks} blocks to ${opts.ingestRecipients} watched recipients among ${opts.watched}, each a deposit + 2 outbox rows + 2 audit rows: ${run.seconds.toFixed(2)} s from 'backfill started' to the range's commit (${run.coldSeconds.toFixed(2)} s from start()), ${run.cpuSeconds.toFixed(2)} s CPU in the service; baseline ${bare.seconds.toFixed(2)} s, of which ${bare.writeSeconds.toFixed(2)} s lookup, rows and transactions`,
    },
  };
}
