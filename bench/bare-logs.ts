import { type Hex, toHex } from 'viem';
import type { RpcLog } from '../src/chain/rpc.js';
import { decodeTransferLogs, TRANSFER_TOPIC, type TransferLog } from '../src/chain/transfers.js';
import { defaultOptions } from '../src/internal/options.js';
import { rpcBatch } from './chain.js';
import { nowMs } from './ipc.js';
import { median } from './report.js';

export interface BareRange {
  from: number;
  end: number;
  /** The header of `end`: what a reader keeps as its cursor. */
  endBlock: { number: number; hash: Hex; parentHash: Hex };
  transfers: TransferLog[];
}

/**
 * The token's Transfer logs of `from..to` the way a bare reader would take them: eth_getLogs by plain
 * fetch (no viem: its HTTP transport refuses bodies over 10 MB) together with the range's last header,
 * and the service's decoder. The ranges follow the watcher's rule (initialRange, halved above
 * maxLogsPerRange logs, doubled after three answers up to maxRange), so both ask the node the same.
 * `onRange` gets each range in order; resolves with the number of transfers.
 */
export async function readRangesBare(
  rpcUrl: string,
  token: Hex,
  from: number,
  to: number,
  onRange: (range: BareRange) => unknown = () => {},
): Promise<number> {
  const tuning = defaultOptions.watcher;
  let range = tuning.initialRange;
  let successes = 0;
  let n = 0;
  for (let next = from; next <= to; ) {
    const end = Math.min(next + range - 1, to);
    const filter = {
      fromBlock: toHex(next),
      toBlock: toHex(end),
      address: [token],
      topics: [TRANSFER_TOPIC],
    };
    const [logsAnswer, blockAnswer] = (await rpcBatch(rpcUrl, [
      { jsonrpc: '2.0', id: 1, method: 'eth_getLogs', params: [filter] },
      { jsonrpc: '2.0', id: 2, method: 'eth_getBlockByNumber', params: [toHex(end), false] },
    ]).then((answers) => (answers as { id: number; result: unknown }[]).sort((a, b) => a.id - b.id))) as [
      { result: RpcLog[] },
      { result: { hash: Hex; parentHash: Hex } },
    ];
    const logs = logsAnswer.result;
    if (logs.length > tuning.maxLogsPerRange) {
      range = Math.max(1, Math.floor(range / 2));
      successes = 0;
    } else if (++successes >= 3 && range < tuning.maxRange) {
      range = Math.min(range * 2, tuning.maxRange);
      successes = 0;
    }
    const transfers = decodeTransferLogs(logs);
    n += transfers.length;
    const { hash, parentHash } = blockAnswer.result;
    await onRange({ from: next, end, endBlock: { number: end, hash, parentHash }, transfers });
    next = end + 1;
  }
  return n;
}

/** The seconds `run` takes: one warm-up run (the node's first pass over the blocks, the JIT), then the median of three. */
export async function timeBare(run: () => Promise<unknown>, repeats = 3): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const started = nowMs();
    await run();
    times.push((nowMs() - started) / 1000);
  }
  return median(times);
}
