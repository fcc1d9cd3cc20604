import { setTimeout as sleep } from 'node:timers/promises';
import amqplib from 'amqplib';
import {
  type Address,
  createPublicClient,
  encodeFunctionData,
  formatUnits,
  type Hex,
  http,
  parseGwei,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { testUsdtAbi } from '../src/chain/token.js';
import type { Config, QueueConfig } from '../src/config/types.js';
import {
  importWallets,
  newWallet,
  queueId,
  signedWithdraw,
  type TestWallet,
} from '../test/helpers/payouts.js';
import { TEST_AMQP_URL } from '../test/helpers/rabbit.js';
import { testConfig } from '../test/helpers/service.js';
import { type BenchChain, randomAddresses, randomAmount, rpcBatch } from './chain.js';
import { type ServiceChild, startServiceChild } from './child.js';
import { consumeTopupResponses, type ResponseConsumer } from './consumer.js';
import { nowMs } from './ipc.js';
import type { BenchOptions } from './options.js';
import type { Figure } from './report.js';
import { createBenchDatabase } from './watched.js';

export interface PayoutResult {
  figures: Figure[];
  /** Peak RSS of the service child during the payout run (bytes), for the memory figures. */
  peakRss: number;
}

const ETH = 10n ** 18n;
/** Transfers in flight at once in the bare loop. */
const BARE_WINDOW = 64;
/** Payouts paid (and mined) before the timed run, on both sides: JIT, caches, the sender's nonce row. */
const warmupOf = (n: number) => Math.max(20, Math.round(n / 10));
/** Confirmed publishes outstanding at once. */
const PUBLISH_WINDOW = 1_000;
const BARE_GAS = 100_000n;

interface Job {
  to: Address;
  amount: bigint;
}

function jobsFor(n: number): Job[] {
  return randomAddresses(n).map((to) => ({ to, amount: randomAmount() }));
}

/** The pending nonce: the node's transaction count including its pool. */
async function pendingNonce(rpcUrl: string, address: Address): Promise<number> {
  const body = { jsonrpc: '2.0', id: 1, method: 'eth_getTransactionCount', params: [address, 'pending'] };
  return Number(BigInt(((await rpcBatch(rpcUrl, body)) as { result: Hex }).result));
}

/** Polls until the sender's pending nonce reaches `target`; resolves with the time it was seen. */
async function untilPending(rpcUrl: string, address: Address, target: number, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const n = await pendingNonce(rpcUrl, address);
    if (n >= target) return nowMs();
    if (performance.now() > deadline)
      throw new Error(`pending nonce of ${address} is ${n} after ${timeoutMs} ms, expected ${target}`);
    await sleep(10);
  }
}

/**
 * The baseline: a bare viem loop signing the transfers with a local nonce counter and sending each with
 * eth_sendRawTransaction (BARE_WINDOW in flight); the time from the first signature until the node took
 * them all.
 */
async function bareSends(
  bc: BenchChain,
  wallet: TestWallet,
  jobs: Job[],
): Promise<{ ms: number; hashes: Hex[] }> {
  const rpcUrl = bc.chain.anvil.rpcUrl;
  const client = createPublicClient({ transport: http(rpcUrl, { retryCount: 0 }) });
  const account = privateKeyToAccount(wallet.privateKey);
  const chainId = bc.chain.anvil.chainId;
  const token = bc.chain.token;
  let nonce = await client.getTransactionCount({ address: account.address, blockTag: 'pending' });
  const hashes: Hex[] = new Array(jobs.length);
  const started = nowMs();
  const inFlight = new Set<Promise<unknown>>();
  for (const [i, job] of jobs.entries()) {
    const raw = await account.signTransaction({
      chainId,
      type: 'eip1559',
      to: token,
      data: encodeFunctionData({ abi: testUsdtAbi, functionName: 'transfer', args: [job.to, job.amount] }),
      gas: BARE_GAS,
      nonce: nonce++,
      maxFeePerGas: parseGwei('50'),
      maxPriorityFeePerGas: parseGwei('1'),
    });
    const p = client.sendRawTransaction({ serializedTransaction: raw }).then((hash) => {
      hashes[i] = hash;
      inFlight.delete(p);
    });
    inFlight.add(p);
    if (inFlight.size >= BARE_WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return { ms: nowMs() - started, hashes };
}

/**
 * The floor for "answered": one block a second from `from` on, the bench itself (which mines) fetching
 * the receipts after each block, until every transfer is `confirmHeight` deep. Returns when that was known.
 */
async function bareConfirmed(bc: BenchChain, hashes: Hex[], confirmHeight: number) {
  const rpcUrl = bc.chain.anvil.rpcUrl;
  let pending = [...hashes];
  let lastMined = 0;
  let tick = performance.now();
  for (let blocks = 0; blocks < 200; blocks++) {
    await sleep(Math.max(0, tick - performance.now()));
    await bc.mineOne();
    tick += 1000;
    const head = await bc.head();
    const left: Hex[] = [];
    for (let i = 0; i < pending.length; i += 500) {
      const batch = pending.slice(i, i + 500).map((hash, j) => ({
        jsonrpc: '2.0',
        id: j,
        method: 'eth_getTransactionReceipt',
        params: [hash],
      }));
      const answers = (await rpcBatch(rpcUrl, batch)) as {
        id: number;
        result: { status: Hex; blockNumber: Hex } | null;
      }[];
      for (const a of answers) {
        if (!a.result) left.push(batch[a.id]!.params[0]!);
        else if (a.result.status !== '0x1')
          throw new Error(`bare transfer ${batch[a.id]!.params[0]} reverted`);
        else lastMined = Math.max(lastMined, Number(BigInt(a.result.blockNumber)));
      }
    }
    pending = left;
    if (pending.length === 0 && head - lastMined + 1 >= confirmHeight)
      return { at: nowMs(), blocks: blocks + 1 };
  }
  throw new Error(`bare transfers not confirmed after 200 blocks (${pending.length} not mined)`);
}

/** Publishes every body to the queue's exchange, persistent, with `PUBLISH_WINDOW` confirms outstanding. */
async function publishAll(queue: QueueConfig, bodies: string[]) {
  const conn = await amqplib.connect(TEST_AMQP_URL);
  conn.on('error', () => {});
  try {
    const ch = await conn.createConfirmChannel();
    let outstanding = 0;
    let release: (() => void) | undefined;
    let failed: Error | undefined;
    const started = nowMs();
    for (const body of bodies) {
      while (outstanding >= PUBLISH_WINDOW) await new Promise<void>((r) => (release = r));
      if (failed) throw failed;
      outstanding++;
      const ok = ch.publish(
        queue.exchange,
        queue.routing[0]!,
        Buffer.from(body, 'utf8'),
        { persistent: true, contentType: 'application/json' },
        (err) => {
          outstanding--;
          if (err) failed = err instanceof Error ? err : new Error(String(err));
          const r = release;
          release = undefined;
          r?.();
        },
      );
      if (!ok) await new Promise((r) => ch.once('drain', r));
    }
    await ch.waitForConfirms();
    if (failed) throw failed;
    const confirmed = nowMs();
    await ch.close();
    return { started, confirmed };
  } finally {
    await conn.close().catch(() => {});
  }
}

function withdrawBodies(jobs: Job[], from: Address, prefix: string) {
  return jobs.map((job) => {
    const id = queueId(prefix);
    const body = signedWithdraw({
      queue_id: id,
      from_address: from,
      to_address: job.to,
      amount: formatUnits(job.amount, 6),
    });
    return { id, body };
  });
}

/** Mines one block a second (the first at once) until `done` settles; returns the blocks mined. */
async function mineUntil(bc: BenchChain, done: Promise<unknown>, maxBlocks: number): Promise<number> {
  let settled = false;
  const watched = done.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  let tick = performance.now();
  let blocks = 0;
  while (!settled) {
    if (blocks >= maxBlocks) throw new Error(`not answered after ${maxBlocks} blocks`);
    await bc.mineOne();
    blocks++;
    tick += 1000;
    await Promise.race([watched, sleep(Math.max(0, tick - performance.now()))]);
  }
  await done;
  return blocks;
}

/** Waits for a status 1 answer to every id (throws on a status 0); resolves with the last arrival time. */
async function answered(consumer: ResponseConsumer, ids: Set<string>, timeoutMs: number): Promise<number> {
  let last = 0;
  const seen = new Set<string>();
  let refused: string | undefined;
  let checked = 0;
  await consumer.until(
    (arrivals) => {
      for (; checked < arrivals.length; checked++) {
        const a = arrivals[checked]!;
        if (!a.queueId || !ids.has(a.queueId)) continue;
        if (a.status !== 1) refused ??= `${a.queueId} answered with status ${a.status}`;
        seen.add(a.queueId);
        last = Math.max(last, a.at);
      }
      return refused !== undefined || seen.size >= ids.size;
    },
    timeoutMs,
    `${ids.size} withdraw responses`,
  );
  if (refused) throw new Error(`payout refused: ${refused}`);
  return last;
}

async function payoutStates(child: ServiceChild) {
  return child.request({ type: 'payouts' }, 'payouts');
}

/**
 * 3. Payout throughput. The bare baseline first (then mined, one block a second, to `payoutConfirmHeight`),
 * then a service child paying the same number of withdrawals from one collection wallet in its vault:
 * all published to the withdraw queue at once, timed from the first publish until the node's pending
 * nonce of the wallet shows all of them taken ("broadcast"), then one block a second until every status 1
 * answer reached a consumer of the response queue ("answered"). The block gas limit is raised for the
 * run so a block holds them all (and put back after).
 */
export async function runPayoutBench(
  bc: BenchChain,
  queues: Config['rmq'],
  opts: BenchOptions,
  logFile: string,
  progress: (text: string) => void,
): Promise<PayoutResult> {
  const n = opts.payouts;
  const warmup = warmupOf(n);
  const confirmHeight = opts.payoutConfirmHeight;
  const rpcUrl = bc.chain.anvil.rpcUrl;
  const latest = await bc.chain.publicClient.getBlock({ blockTag: 'latest' });
  const gasLimit = BigInt(Math.max(30_000_000, (n + warmup) * Number(BARE_GAS) * 2));
  const setGasLimit = (limit: bigint) =>
    rpcBatch(rpcUrl, {
      jsonrpc: '2.0',
      id: 1,
      method: 'evm_setBlockGasLimit',
      params: [`0x${limit.toString(16)}`],
    });
  await setGasLimit(gasLimit);
  try {
    const collection = newWallet();
    const bare = newWallet();
    const serviceJobs = jobsFor(n);
    const bareJobs = jobsFor(n);
    const total = (jobs: Job[]) => jobs.reduce((s, j) => s + j.amount, 0n);
    for (const w of [collection, bare]) await bc.chain.setEthBalance(w.address, 1_000n * ETH);
    await bc.chain.mint(collection.address, total(serviceJobs) + 10n ** 12n);
    await bc.chain.mint(bare.address, total(bareJobs) + 10n ** 12n);

    // ---- baseline: the bare loop ----
    progress(`payout baseline: ${n} transfers by a bare viem loop`);
    const warm = await bareSends(bc, bare, jobsFor(warmup));
    await bareConfirmed(bc, warm.hashes, 1);
    const bareRun = await bareSends(bc, bare, bareJobs);
    const bareSent = nowMs();
    const bareAnswer = await bareConfirmed(bc, bareRun.hashes, confirmHeight);
    const bareRate = (n / bareRun.ms) * 1000;
    const bareAnsweredMs = bareAnswer.at - (bareSent - bareRun.ms);

    // ---- the service ----
    const db = await createBenchDatabase(opts.db);
    try {
      await importWallets(db.config, [collection]);
      const config = testConfig({
        chain: bc.chain,
        queues,
        db: db.config,
        confirmHeight,
        collectionAddressLc: collection.address,
      });
      const consumer = await consumeTopupResponses(queues.withdrawResp);
      try {
        const child = await startServiceChild({
          config,
          tuning: { httpPort: 0 },
          logFile,
          profileDir: opts.profileDir,
        });
        try {
          await sleep(1_000);
          progress(`payout service: ${warmup} warm-up withdrawals`);
          const nonce0 = await pendingNonce(rpcUrl, collection.address);
          const warmups = withdrawBodies(jobsFor(warmup), collection.address, 'warm');
          await publishAll(
            queues.withdraw,
            warmups.map((w) => w.body),
          );
          await untilPending(rpcUrl, collection.address, nonce0 + warmup, 60_000);
          // Mined (not waited to confirmHeight): their answers may come during the timed run, not counted.
          const warmMined = (async () => {
            for (;;) {
              const s = (await payoutStates(child)).states;
              if (!s.accepted && !s.signed && !s.sent) return;
              await sleep(100);
            }
          })();
          await mineUntil(bc, warmMined, 20);

          progress(`payout service: ${n} withdrawals`);
          const timed = withdrawBodies(serviceJobs, collection.address, 'bench');
          const ids = new Set(timed.map((t) => t.id));
          const before = await payoutStates(child);
          const nonce1 = await pendingNonce(rpcUrl, collection.address);
          const broadcastSeen = untilPending(rpcUrl, collection.address, nonce1 + n, 300_000);
          // The rows past `signed`, from the service's database (a coarser clock: every 100 ms).
          const allSent = (async () => {
            const wanted = warmup + n;
            for (;;) {
              const r = await payoutStates(child);
              const s = r.states;
              if ((s.sent ?? 0) + (s.mined ?? 0) + (s.confirmed ?? 0) >= wanted) return r;
              if (s.failed) throw new Error(`payouts failed: ${JSON.stringify(s)}`);
              await sleep(100);
            }
          })();
          // Awaited below; a failure before that must not become an unhandled rejection.
          for (const p of [broadcastSeen, allSent]) p.catch(() => {});
          const published = await publishAll(
            queues.withdraw,
            timed.map((t) => t.body),
          );
          const broadcastAt = await broadcastSeen;
          const sentRows = await allSent;
          const broadcastMs = broadcastAt - published.started;
          progress(
            `payout service: broadcast in ${(broadcastMs / 1000).toFixed(2)} s; mining one block a second`,
          );
          const lastAnswer = answered(consumer, ids, 300_000);
          const blocks = await mineUntil(bc, lastAnswer, confirmHeight + 60);
          const answeredMs = (await lastAnswer) - published.started;
          const { maxRss } = await child.request({ type: 'memory', gc: false }, 'memory');
          const done = await bc.chain.publicClient.getTransactionCount({ address: collection.address });
          if (done !== nonce1 + n)
            throw new Error(`collection wallet sent ${done - nonce1} transactions, expected ${n}`);

          const rate = (n / broadcastMs) * 1000;
          const answeredRate = (n / answeredMs) * 1000;
          const cpuS = (sentRows.cpuUs - before.cpuUs) / 1e6;
          const bareLabel = `bare viem loop: sign with a local nonce + eth_sendRawTransaction, ${BARE_WINDOW} in flight`;
          const sizes = `${n} withdrawals from one collection wallet to ${n} fresh recipients, block gas limit ${gasLimit / 1_000_000n}M (raised for this part)`;
          return {
            peakRss: maxRss,
            figures: [
              {
                name: 'payout_baseline_sends',
                value: bareRate,
                unit: 'tx/s',
                baseline: bareRate,
                baselineLabel: bareLabel,
                note: `${n} transfers to fresh recipients in ${(bareRun.ms / 1000).toFixed(2)} s (after ${warmup} warm-up)`,
              },
              {
                name: 'payout_broadcast',
                value: rate,
                unit: 'payouts/s',
                baseline: bareRate,
                baselineLabel: bareLabel,
                target: 'ratio ≥ 0.5',
                met: rate / bareRate >= 0.5,
                note: `${sizes}: ${(broadcastMs / 1000).toFixed(2)} s from the first publish until the node's pending nonce of the wallet was start + ${n} (all accepted by the node); publishes confirmed after ${((published.confirmed - published.started) / 1000).toFixed(2)} s; all rows 'sent' in the service's database by ${((sentRows.at - published.started) / 1000).toFixed(2)} s (polled every 100 ms); ${cpuS.toFixed(2)} s CPU in the service until then; after ${warmup} warm-up payouts`,
              },
              {
                name: 'payout_answered',
                value: answeredRate,
                unit: 'payouts/s',
                baseline: (n / bareAnsweredMs) * 1000,
                baselineLabel: `the bare loop's transfers, mined one block a second, receipts fetched by the miner until ${confirmHeight} deep`,
                note: `${(answeredMs / 1000).toFixed(2)} s from the first publish until the last status 1 answer reached the consumer, confirmHeight ${confirmHeight}, ${blocks} blocks mined one a second after the broadcast; baseline ${(bareAnsweredMs / 1000).toFixed(2)} s, ${bareAnswer.blocks} blocks`,
              },
            ],
          };
        } finally {
          await child.stop();
        }
      } finally {
        await consumer.close();
      }
    } finally {
      await db.cleanup();
    }
  } finally {
    await setGasLimit(latest.gasLimit).catch(() => {});
  }
}
