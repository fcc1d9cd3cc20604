import { setTimeout as sleep } from 'node:timers/promises';
import type { Address, Hex } from 'viem';
import WebSocket from 'ws';
import { createChainRpc } from '../src/chain/rpc.js';
import { decodeTransferLogs, TRANSFER_TOPIC } from '../src/chain/transfers.js';
import type { Config } from '../src/config/types.js';
import { noMetricHooks } from '../src/context/common.js';
import { defaultOptions } from '../src/internal/options.js';
import { type BenchChain, randomAmount } from './chain.js';
import { startServiceChild } from './child.js';
import { consumeTopupResponses } from './consumer.js';
import { nowMs } from './ipc.js';
import type { BenchDb, BenchOptions } from './options.js';
import { type Figure, percentile } from './report.js';
import { markOutboxSent } from './watched.js';

/**
 * The floor for latency: newHeads over WebSocket, then eth_getLogs by block hash and the decoder, in the
 * bench process; the time a block's transfers are known to a bare client.
 */
async function watchBare(wsUrl: string, rpcUrl: string, token: Hex) {
  const rpc = createChainRpc({ options: defaultOptions, metrics: noMetricHooks }, { rpcUrl });
  const seen = new Map<number, number>();
  const ws = new WebSocket(wsUrl);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_subscribe', params: ['newHeads'] }));
  ws.on('message', async (data) => {
    const msg = JSON.parse(data.toString()) as { params?: { result?: { number?: Hex; hash?: Hex } } };
    const head = msg.params?.result;
    if (!head?.number || !head.hash) return;
    const logs = await rpc.getLogsByBlockHash(head.hash, [token], TRANSFER_TOPIC);
    decodeTransferLogs(logs);
    seen.set(Number(BigInt(head.number)), nowMs());
  });
  return { seen, close: () => ws.terminate() };
}

/**
 * One block every `latencyIntervalMs` (evm_mine by the bench) with `latencyTransfersPerBlock` transfers to
 * watched addresses in each; the time from just before evm_mine to the status 2 message at a consumer of
 * the response queue. The service resumes from the cursor earlier parts left, once it is at the head.
 */
export async function runDepositLatency(
  bc: BenchChain,
  config: Config,
  db: BenchDb,
  recipients: Address[],
  opts: BenchOptions,
  logFile: string,
): Promise<Figure[]> {
  const token = config.chain.tokens[0]!.addressLc;
  // Earlier parts' answers are neither published nor waiting in the queue during this one.
  await markOutboxSent(config.db);
  const consumer = await consumeTopupResponses(config.rmq.topupResp, { purge: true });
  const bare = await watchBare(config.chain.wsUrl, config.chain.rpcUrl, token);
  const child = await startServiceChild({
    config,
    tuning: { httpPort: 0 },
    logFile,
    profileDir: opts.profileDir,
  });
  try {
    // An empty block the service must see: then it is at the head, whatever cursor it started from.
    await bc.mineOne();
    let head = await bc.head();
    await child.waitFor('block', (b) => b.number >= head, 120_000);
    const interval = opts.latencyIntervalMs;
    const mineAt = new Map<number, number>();
    const sent: { hash: Hex; block: number }[] = [];
    let r = 0;
    const sendSome = async () => {
      const raws: Hex[] = [];
      for (let k = 0; k < opts.latencyTransfersPerBlock; k++, r++) {
        const sender = bc.senders[r % bc.senders.length]!;
        raws.push(await bc.signTransfer(sender, recipients[r % recipients.length]!, randomAmount()));
      }
      return bc.sendRaw(raws);
    };
    let hashes = await sendSome();
    let tick = performance.now() + interval / 5;
    for (let i = 0; i < opts.latencyBlocks; i++) {
      await sleep(Math.max(0, tick - performance.now()));
      const t0 = nowMs();
      await bc.mineOne();
      head++;
      mineAt.set(head, t0);
      if (i >= opts.latencyWarmup) for (const hash of hashes) sent.push({ hash, block: head });
      tick += interval;
      if (i + 1 < opts.latencyBlocks) {
        // the next block's transfers arrive mid-interval: a steady stream, not a burst at the mine
        await sleep(Math.max(0, tick - interval / 2 - performance.now()));
        hashes = await sendSome();
      }
    }
    const wanted = new Set(sent.map((s) => s.hash));
    const status2 = () => consumer.arrivals.filter((a) => a.status === 2 && wanted.has(a.txHash as Hex));
    await consumer.until(() => status2().length >= wanted.size, 30_000, `${wanted.size} status 2 messages`);
    const arrival = new Map(status2().map((a) => [a.txHash, a]));
    const service: number[] = [];
    const floor: number[] = [];
    // where the time goes: mine → the watcher's commit (its block event) → arrival at the consumer
    const toCommit: number[] = [];
    const toArrival: number[] = [];
    const commitAt = new Map<number, number>();
    for (const m of child.replies) if (m.type === 'block') commitAt.set(m.number, m.at);
    for (const s of sent) {
      const a = arrival.get(s.hash)!;
      if (a.blockHeight !== s.block)
        throw new Error(`${s.hash} reported in block ${a.blockHeight}, mined in ${s.block}`);
      const mined = mineAt.get(s.block)!;
      service.push(a.at - mined);
      const committed = commitAt.get(s.block);
      if (committed !== undefined) {
        toCommit.push(committed - mined);
        toArrival.push(a.at - committed);
      }
      const bareAt = bare.seen.get(s.block);
      if (bareAt !== undefined) floor.push(bareAt - mineAt.get(s.block)!);
    }
    const label = 'bare newHeads + eth_getLogs(blockHash) + decode';
    const ms = (xs: number[], p: number) => percentile(xs, p).toFixed(1);
    const note = `${service.length} transfers in ${opts.latencyBlocks - opts.latencyWarmup} blocks (after ${opts.latencyWarmup} warm-up), ${opts.latencyTransfersPerBlock} per block, one block every ${interval} ms; mine → deposits committed p50/p99 ${ms(toCommit, 50)}/${ms(toCommit, 99)} ms, committed → message at the consumer p50/p99 ${ms(toArrival, 50)}/${ms(toArrival, 99)} ms; max ${ms(service, 100)} ms (baseline ${ms(floor, 100)} ms)`;
    return (
      [
        ['p50', 50],
        ['p99', 99],
      ] as const
    ).map(([name, p]) => ({
      name: `deposit_latency_${name}`,
      db,
      value: percentile(service, p),
      unit: 'ms',
      baseline: percentile(floor, p),
      baselineLabel: label,
      ...(name === 'p99' ? { goal: { op: '≤', ratio: 1.5 } as const, note } : {}),
    }));
  } finally {
    await child.stop();
    bare.close();
    await consumer.close();
  }
}
