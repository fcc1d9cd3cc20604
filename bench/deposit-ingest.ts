import { type Address, type Hex, toHex } from 'viem';
import type { RpcLog } from '../src/chain/rpc.js';
import { decodeTransferLogs, TRANSFER_TOPIC } from '../src/chain/transfers.js';
import type { Config } from '../src/config/types.js';
import { defaultOptions } from '../src/internal/options.js';
import { type BenchChain, randomAddresses, randomAmount, rpcBatch } from './chain.js';
import { startServiceChild } from './child.js';
import { consumeTopupResponses } from './consumer.js';
import { nowMs } from './ipc.js';
import type { BenchOptions } from './options.js';
import { type Figure, median } from './report.js';

export interface IngestChainData {
  recipients: Address[];
  fromBlock: number;
  toBlock: number;
  logs: number;
}

/**
 * Puts `ingestLogs` Transfer logs on chain: multiTransfer transactions of `logsPerTx` recipients each,
 * signed here with explicit nonces from the senders in turn, sent in JSON-RPC batches, `logsPerBlock`
 * logs per mined block; then `confirmHeight + 1` empty blocks, so the backfill takes them all by range.
 */
export async function putIngestTransfers(bc: BenchChain, opts: BenchOptions): Promise<IngestChainData> {
  const recipients = randomAddresses(opts.ingestRecipients);
  const txs: Hex[] = [];
  for (let i = 0, t = 0; i < opts.ingestLogs; i += opts.logsPerTx, t++) {
    const to = Array.from(
      { length: Math.min(opts.logsPerTx, opts.ingestLogs - i) },
      (_, k) => recipients[(i + k) % recipients.length]!,
    );
    txs.push(await bc.signMultiTransfer(bc.senders[t % bc.senders.length]!, to, to.map(randomAmount)));
  }
  const fromBlock = (await bc.head()) + 1;
  const txsPerBlock = Math.max(1, Math.floor(opts.logsPerBlock / opts.logsPerTx));
  for (let i = 0; i < txs.length; i += txsPerBlock) {
    await bc.sendRaw(txs.slice(i, i + txsPerBlock));
    await bc.mineOne();
  }
  const toBlock = await bc.head();
  await bc.chain.mine(opts.confirmHeight + 1);
  return { recipients, fromBlock, toBlock, logs: opts.ingestLogs };
}

/**
 * The floor: eth_getLogs over the same range (in the watcher's first range size) by plain fetch, and the
 * service's decoder. No viem: its HTTP transport refuses bodies over 10 MB, which is part of what is measured.
 */
async function baselineSeconds(rpcUrl: string, token: Hex, data: IngestChainData): Promise<number> {
  const step = defaultOptions.watcher.initialRange;
  const getLogs = async (from: number, to: number) => {
    const filter = { fromBlock: toHex(from), toBlock: toHex(to), address: [token], topics: [TRANSFER_TOPIC] };
    const body = { jsonrpc: '2.0', id: 1, method: 'eth_getLogs', params: [filter] };
    return ((await rpcBatch(rpcUrl, body)) as { result: RpcLog[] }).result;
  };
  const once = async () => {
    const started = nowMs();
    let n = 0;
    for (let from = data.fromBlock; from <= data.toBlock; from += step) {
      n += decodeTransferLogs(await getLogs(from, Math.min(from + step - 1, data.toBlock))).length;
    }
    if (n !== data.logs) throw new Error(`baseline found ${n} Transfer logs, expected ${data.logs}`);
    return (nowMs() - started) / 1000;
  };
  await once(); // warm-up: the node's first pass over these blocks, and the JIT
  const runs = [await once(), await once(), await once()];
  return median(runs);
}

export interface IngestResult {
  figures: Figure[];
  /** Peak resident memory of the service child during the ingest (bytes). */
  peakRss: number;
}

/** A service with an empty cursor at `fromBlock` takes the range by backfill; timed until the rows exist. */
export async function runDepositIngest(
  config: Config,
  data: IngestChainData,
  opts: BenchOptions,
  logFile: string,
): Promise<IngestResult> {
  const token = config.chain.tokens[0]!.addressLc;
  const baseline = await baselineSeconds(config.chain.rpcUrl, token, data);
  const consumer = await consumeTopupResponses(config.rmq.topupResp);
  try {
    const child = await startServiceChild({
      config,
      tuning: { watcher: { startBlock: data.fromBlock }, httpPort: 0 },
      logFile,
      profileDir: opts.profileDir,
    });
    try {
      const starting = await child.waitFor('starting');
      const done = await child.waitFor('block', (b) => b.number >= data.toBlock, 300_000);
      const counts = await child.request({ type: 'counts' }, 'counts');
      if (counts.deposits !== data.logs || counts.outbox < data.logs)
        throw new Error(`after the backfill: ${JSON.stringify(counts)}; expected ${data.logs} deposits`);
      const status2 = () => consumer.arrivals.filter((a) => a.status === 2);
      await consumer.until(() => status2().length >= data.logs, 300_000, `${data.logs} status 2 messages`);
      const published = status2()[data.logs - 1]!.at;
      const head = data.toBlock + opts.confirmHeight + 1;
      await child.waitFor('block', (b) => b.number >= head, 60_000); // at the head: the latency run resumes here
      const { maxRss } = await child.request({ type: 'memory', gc: false }, 'memory');
      const seconds = (done.at - starting.at) / 1000;
      const cpuSeconds = (done.cpuUs - starting.cpuUs) / 1e6;
      const publishedSeconds = (published - starting.at) / 1000;
      const baselineRate = data.logs / baseline;
      const rate = data.logs / seconds;
      const label = 'bare eth_getLogs + decode over the same range';
      return {
        peakRss: maxRss,
        figures: [
          {
            name: 'deposit_ingest_baseline',
            value: baselineRate,
            unit: 'logs/s',
            baseline: baselineRate,
            baselineLabel: label,
          },
          {
            name: 'deposit_ingest',
            value: rate,
            unit: 'logs/s',
            baseline: baselineRate,
            baselineLabel: label,
            target: '≥ 10000 and ratio ≥ 0.5',
            met: rate >= 10_000 && rate / baselineRate >= 0.5,
            note: `${data.logs} logs in ${data.toBlock - data.fromBlock + 1} blocks to ${data.recipients.length} recipients among ${opts.watched} watched: ${seconds.toFixed(2)} s from start() to the commit of the last block with transfers (${counts.deposits} deposits, ${counts.outbox} outbox rows incl. status 1 of the confirmed ones), ${cpuSeconds.toFixed(2)} s CPU in the service; baseline ${baseline.toFixed(3)} s`,
          },
          {
            name: 'deposit_ingest_published',
            value: data.logs / publishedSeconds,
            unit: 'logs/s',
            baseline: baselineRate,
            baselineLabel: label,
            note: `until the last status 2 message reached the response queue's consumer: ${publishedSeconds.toFixed(2)} s`,
          },
        ],
      };
    } finally {
      await child.stop();
    }
  } finally {
    await consumer.close();
  }
}
