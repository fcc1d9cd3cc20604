import { setTimeout as sleep } from 'node:timers/promises';
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
import type { Config } from '../src/config/types.js';
import {
  importWallets,
  newWallet,
  queueId,
  signedWithdraw,
  type TestWallet,
} from '../test/helpers/payouts.js';
import { testConfig } from '../test/helpers/service.js';
import { type BenchChain, randomAddresses, randomAmount } from './chain.js';
import { type ServiceChild, startServiceChild } from './child.js';
import { nowMs } from './ipc.js';
import type { BenchDb, BenchOptions } from './options.js';
import { pendingNonces, publishAll, setBlockGasLimit, untilPending } from './publish.js';
import type { Figure } from './report.js';
import { createBenchDatabase } from './watched.js';

export interface PayoutResult {
  figure: Figure;
  /** Peak RSS of the service child during the payout run (bytes), for the memory figures. */
  peakRss: number;
}

const ETH = 10n ** 18n;
/** Transfers in flight at once in the bare loop. */
const BARE_WINDOW = 64;
/** Payouts paid (and mined) before the timed run, on both sides: JIT, caches, the sender's nonce row. */
const warmupOf = (n: number) => Math.max(20, Math.round(n / 10));
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
  return (await pendingNonces(rpcUrl, [address]))[0]!;
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

/** Mines a block every 250 ms (the first at once) until `done` settles; returns the blocks mined. */
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
    if (blocks >= maxBlocks) throw new Error(`not done after ${maxBlocks} blocks`);
    await bc.mineOne();
    blocks++;
    tick += 250;
    await Promise.race([watched, sleep(Math.max(0, tick - performance.now()))]);
  }
  await done;
  return blocks;
}

async function payoutStates(child: ServiceChild) {
  return child.request({ type: 'payouts' }, 'payouts');
}

/** One block holding everything in the node's pool (the gas limit is raised for this part). */
async function mineAll(bc: BenchChain, from: Address, nonce: number) {
  await bc.mineOne();
  const done = await bc.chain.publicClient.getTransactionCount({ address: from });
  if (done !== nonce) throw new Error(`${from} has ${done} transactions mined, expected ${nonce}`);
}

/**
 * payout_broadcast. The bare baseline first: a viem loop sending `payouts` token transfers from a wallet
 * of its own. Then a service child paying as many withdrawals from one collection wallet in its vault:
 * all published to the withdraw queue at once, timed from the first publish until the node's pending
 * nonce of the wallet shows all of them taken. Both sides pay a warm-up first (mined, not timed). The
 * block gas limit is raised for the part, so one block holds each batch (and put back after).
 */
export async function runPayoutBench(
  bc: BenchChain,
  queues: Config['rmq'],
  db: BenchDb,
  opts: BenchOptions,
  logFile: string,
  progress: (text: string) => void,
): Promise<PayoutResult> {
  const n = opts.payouts;
  const warmup = warmupOf(n);
  const rpcUrl = bc.chain.anvil.rpcUrl;
  const latest = await bc.chain.publicClient.getBlock({ blockTag: 'latest' });
  const gasLimit = BigInt(Math.max(30_000_000, (n + warmup) * Number(BARE_GAS) * 2));
  const setGasLimit = (limit: bigint) => setBlockGasLimit(rpcUrl, limit);
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
    progress(`payout baseline (${db}): ${n} transfers by a bare viem loop`);
    await bareSends(bc, bare, jobsFor(warmup));
    await mineAll(bc, bare.address, warmup);
    const bareRun = await bareSends(bc, bare, bareJobs);
    await mineAll(bc, bare.address, warmup + n);
    const bareRate = (n / bareRun.ms) * 1000;

    // ---- the service ----
    const store = await createBenchDatabase(db);
    try {
      await importWallets(store.config, [collection]);
      const config = testConfig({
        chain: bc.chain,
        queues,
        db: store.config,
        confirmHeight: opts.confirmHeight,
        collectionAddressLc: collection.address,
      });
      const child = await startServiceChild({
        config,
        tuning: { httpPort: 0 },
        logFile,
        profileDir: opts.profileDir,
      });
      try {
        progress(`payout service (${db}): ${warmup} warm-up withdrawals`);
        const nonce0 = await pendingNonce(rpcUrl, collection.address);
        const warmups = withdrawBodies(jobsFor(warmup), collection.address, 'warm');
        await publishAll(
          queues.withdraw,
          warmups.map((w) => w.body),
        );
        await untilPending(rpcUrl, [collection.address], [nonce0 + warmup], 120_000);
        // Mined and seen by the service (rows past 'sent'), so nothing of the warm-up is left to do.
        const warmMined = (async () => {
          for (;;) {
            const s = (await payoutStates(child)).states;
            if (!s.accepted && !s.signed && !s.sent) return;
            await sleep(100);
          }
        })();
        await mineUntil(bc, warmMined, 50);

        progress(`payout service (${db}): ${n} withdrawals`);
        const timed = withdrawBodies(serviceJobs, collection.address, 'bench');
        const before = await payoutStates(child);
        const nonce1 = await pendingNonce(rpcUrl, collection.address);
        const broadcastSeen = untilPending(rpcUrl, [collection.address], [nonce1 + n], 600_000);
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
        const { maxRss } = await child.request({ type: 'memory', gc: false }, 'memory');
        await mineAll(bc, collection.address, nonce1 + n);

        const rate = (n / broadcastMs) * 1000;
        const cpuS = (sentRows.cpuUs - before.cpuUs) / 1e6;
        return {
          peakRss: maxRss,
          figure: {
            name: 'payout_broadcast',
            db,
            value: rate,
            unit: 'payouts/s',
            baseline: bareRate,
            baselineLabel: `bare viem loop: sign with a local nonce + eth_sendRawTransaction, ${BARE_WINDOW} in flight`,
            goal: { op: '≥', ratio: 0.9 },
            note: `${n} withdrawals from one collection wallet to fresh recipients, after ${warmup} warm-up ones: ${(broadcastMs / 1000).toFixed(2)} s from the first publish until the node's pending nonce of the wallet was start + ${n}; publishes confirmed after ${((published.confirmed - published.started) / 1000).toFixed(2)} s; every row 'sent' by ${((sentRows.at - published.started) / 1000).toFixed(2)} s (polled every 100 ms), ${cpuS.toFixed(2)} s CPU in the service until then; baseline ${(bareRun.ms / 1000).toFixed(2)} s`,
          },
        };
      } finally {
        await child.stop();
      }
    } finally {
      await store.cleanup();
    }
  } finally {
    await setGasLimit(latest.gasLimit).catch(() => {});
  }
}
