/**
 * payouts_3_instances against payouts_1_instance: the same withdrawals, spread round-robin over 10 payout
 * wallets, paid by one service instance and then by three sharing one MariaDB database and one set of
 * queues. Each instance sends for its share of the wallets (a `sender:<CHAIN>:<wallet>` lease each), so
 * the ratio can approach the instances' count where they do not share CPUs; the note gives how the
 * wallets were split and how busy the machine's CPUs were during each timed part.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Address, formatUnits } from 'viem';
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
import { startDelayRpc } from './delay-rpc.js';
import { nowMs } from './ipc.js';
import type { BenchOptions } from './options.js';
import { pendingNonces, publishAll, setBlockGasLimit, untilPending } from './publish.js';
import type { Figure } from './report.js';
import { closeRaw, createBenchDatabase, openRaw, type RawDb } from './watched.js';

const ETH = 10n ** 18n;
/** Payout wallets the withdrawals name as `from_address`, in turn. */
const WALLETS = 10;
/** Service instances of the second run. */
const INSTANCES = 3;
/** Withdrawals per wallet paid (and mined) before the timed part of each run. */
const WARMUP_PER_WALLET = 2;
/** Gas a transfer may take, for the block gas limit of the part. */
const TRANSFER_GAS = 100_000n;

interface RunResult {
  instances: number;
  ms: number;
  rate: number;
  /** Publishes confirmed, every row past `signed` (database, polled): ms after the first publish. */
  confirmedMs: number;
  sentRowsMs: number;
  /** How the sender leases were split at the end (`sendingInstances`). */
  senders: string;
  /** The machine's CPUs busy during the timed part (0–1). */
  cpuBusy: number;
}

/** `n` withdrawals to fresh recipients, the i-th from `wallets[i % wallets.length]`. */
function withdrawals(wallets: TestWallet[], n: number, prefix: string): string[] {
  return randomAddresses(n).map((to, i) =>
    signedWithdraw({
      queue_id: queueId(prefix),
      from_address: wallets[i % wallets.length]!.address,
      to_address: to,
      amount: formatUnits(randomAmount(), 6),
    }),
  );
}

/** How many of `n` round-robin withdrawals each of `count` wallets pays. */
const shareOf = (n: number, count: number, i: number) => Math.floor(n / count) + (i < n % count ? 1 : 0);

async function payoutStates(raw: RawDb): Promise<Record<string, number>> {
  if (raw.driver !== 'mysql') throw new Error('the instances part runs on MariaDB only');
  const [rows] = await raw.mysql.query('select state, count(*) as n from payouts group by state');
  return Object.fromEntries((rows as { state: string; n: number }[]).map((r) => [r.state, Number(r.n)]));
}

const pastSigned = (s: Record<string, number>) => (s.sent ?? 0) + (s.mined ?? 0) + (s.confirmed ?? 0);

/** Polls the rows until `wanted` are past `signed`; throws on a failed one. */
async function untilSentRows(raw: RawDb, wanted: number, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const s = await payoutStates(raw);
    if (s.failed || s.unresolved || s.held) throw new Error(`payouts stuck: ${JSON.stringify(s)}`);
    if (pastSigned(s) >= wanted) return nowMs();
    if (performance.now() > deadline) throw new Error(`payouts after ${timeoutMs} ms: ${JSON.stringify(s)}`);
    await sleep(100);
  }
}

/** How the sender leases are split over the instances (`10 sender leases held 4/4/2`). Read while they run. */
async function sendingInstances(raw: RawDb): Promise<string> {
  if (raw.driver !== 'mysql') return '';
  const [rows] = await raw.mysql.query(
    "select holder, count(*) as n from leases where holder is not null and name like 'sender:%' group by holder",
  );
  const counts = (rows as { holder: string; n: number }[]).map((r) => Number(r.n)).sort((a, b) => b - a);
  const total = counts.reduce((a, b) => a + b, 0);
  return `${total} sender leases held ${counts.join('/')}`;
}

/** The machine's CPU time so far, busy and in all (jiffies), from /proc/stat. */
function cpuTimes(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** Mines one block and checks it took every transaction of the wallets (the gas limit is raised). */
async function mineAll(bc: BenchChain, addresses: Address[]) {
  const pending = await pendingNonces(bc.chain.anvil.rpcUrl, addresses);
  await bc.mineOne();
  for (const [i, address] of addresses.entries()) {
    const mined = await bc.chain.publicClient.getTransactionCount({ address });
    if (mined !== pending[i]) throw new Error(`${address} has ${mined} mined, expected ${pending[i]}`);
  }
}

/**
 * One run: a fresh database, fresh wallets, `instances` service children. A warm-up (2 withdrawals a
 * wallet, sent and mined), then `n` withdrawals published at once, timed from the first publish until
 * every wallet's pending nonce on the node shows its share taken.
 */
async function runOnce(
  bc: BenchChain,
  queues: Config['rmq'],
  opts: BenchOptions,
  instances: number,
  logFile: (i: number) => string,
  progress: (text: string) => void,
  serviceRpcUrl: string | undefined,
): Promise<RunResult> {
  const n = opts.instancePayouts;
  const warmup = WARMUP_PER_WALLET * WALLETS;
  const rpcUrl = bc.chain.anvil.rpcUrl;
  const wallets = Array.from({ length: WALLETS }, newWallet);
  const collection = newWallet();
  const addresses = wallets.map((w) => w.address);
  // Each wallet can pay its share many times over, so no payout falls back to the collection wallet,
  // which holds gas but no tokens: a fallback would fail and stop the run rather than skew it.
  for (const w of [...wallets, collection]) await bc.chain.setEthBalance(w.address, 1_000n * ETH);
  for (const w of wallets) await bc.chain.mint(w.address, 10n ** 15n);

  const store = await createBenchDatabase('mysql');
  const children: ServiceChild[] = [];
  let raw: RawDb | undefined;
  try {
    await importWallets(store.config, [...wallets, collection]);
    raw = await openRaw(store.config);
    const config = testConfig({
      chain: bc.chain,
      queues,
      db: store.config,
      confirmHeight: opts.confirmHeight,
      collectionAddressLc: collection.address,
      rpcUrl: serviceRpcUrl,
    });
    // One instance first, so that it starts alone on the new database; the others beside each other.
    const start = (i: number) =>
      startServiceChild({
        config,
        tuning: { httpPort: 0 },
        logFile: logFile(i),
        profileDir: opts.profileDir,
      });
    children.push(await start(0));
    const others = await Promise.allSettled(Array.from({ length: instances - 1 }, (_, i) => start(i + 1)));
    for (const o of others) if (o.status === 'fulfilled') children.push(o.value);
    for (const o of others) if (o.status === 'rejected') throw o.reason;

    progress(`instances (${instances}): ${warmup} warm-up withdrawals over ${WALLETS} wallets`);
    const nonces0 = await pendingNonces(rpcUrl, addresses);
    await publishAll(queues.withdraw, withdrawals(wallets, warmup, 'warm'));
    const warmTargets = nonces0.map((x, i) => x + shareOf(warmup, WALLETS, i));
    await untilPending(rpcUrl, addresses, warmTargets, 120_000);
    await untilSentRows(raw, warmup, 60_000);
    await mineAll(bc, addresses);

    progress(`instances (${instances}): ${n} withdrawals over ${WALLETS} wallets`);
    const bodies = withdrawals(wallets, n, 'bench');
    const nonces1 = await pendingNonces(rpcUrl, addresses);
    const targets = nonces1.map((x, i) => x + shareOf(n, WALLETS, i));
    const broadcastSeen = untilPending(rpcUrl, addresses, targets, 600_000);
    const sentRows = untilSentRows(raw, warmup + n, 600_000);
    // Awaited below; a failure before that must not become an unhandled rejection.
    for (const p of [broadcastSeen, sentRows]) p.catch(() => {});
    const cpuBefore = cpuTimes();
    const published = await publishAll(queues.withdraw, bodies);
    const broadcastAt = await broadcastSeen;
    const cpuAfter = cpuTimes();
    const sentAt = await sentRows;
    const senders = await sendingInstances(raw);
    await mineAll(bc, addresses);
    const ms = broadcastAt - published.started;
    return {
      instances,
      ms,
      rate: (n / ms) * 1000,
      confirmedMs: published.confirmed - published.started,
      sentRowsMs: sentAt - published.started,
      senders,
      cpuBusy: (cpuAfter.busy - cpuBefore.busy) / Math.max(1, cpuAfter.total - cpuBefore.total),
    };
  } finally {
    await Promise.allSettled(children.map((c) => c.stop()));
    if (raw) await closeRaw(raw).catch(() => {});
    await store.cleanup();
  }
}

/**
 * payouts_3_instances, against payouts_1_instance as its baseline (same run, same sizes, same chain; a
 * fresh database and fresh wallets each). The block gas limit is raised for the part so one block holds
 * everything in the pool, and put back after.
 */
export async function runPayoutInstances(
  bc: BenchChain,
  queues: Config['rmq'],
  opts: BenchOptions,
  logFile: (run: string) => string,
  progress: (text: string) => void,
): Promise<Figure> {
  const rpcUrl = bc.chain.anvil.rpcUrl;
  const latest = await bc.chain.publicClient.getBlock({ blockTag: 'latest' });
  const txs = opts.instancePayouts + WARMUP_PER_WALLET * WALLETS;
  const gasLimit = BigInt(Math.max(30_000_000, txs * Number(TRANSFER_GAS) * 2));
  const setGasLimit = (limit: bigint) => setBlockGasLimit(rpcUrl, limit);
  await setGasLimit(gasLimit);
  const delay =
    opts.instanceRpcDelayMs > 0 ? await startDelayRpc(rpcUrl, opts.instanceRpcDelayMs) : undefined;
  try {
    const run = (k: number) =>
      runOnce(
        bc,
        queues,
        opts,
        k,
        (i) => logFile(`${k}-instance${k > 1 ? 's' : ''}-${i}`),
        progress,
        delay?.url,
      );
    const one = await run(1);
    const many = await run(INSTANCES);
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const describe = (r: RunResult) =>
      `${r.instances}: ${s(r.ms)} (publishes confirmed ${s(r.confirmedMs)}, rows 'sent' ${s(r.sentRowsMs)}; ${r.senders}; CPUs ${Math.round(r.cpuBusy * 100)}% busy)`;
    return {
      name: `payouts_${INSTANCES}_instances`,
      db: 'mysql',
      value: many.rate,
      unit: 'payouts/s',
      baseline: one.rate,
      baselineLabel: 'payouts_1_instance: the same withdrawals paid by one service instance',
      goal: { op: '≥', ratio: 2.5 },
      note: `${opts.instanceRpcDelayMs > 0 ? `the node ${opts.instanceRpcDelayMs} ms of round trip away (HTTP RPC through a delaying proxy); ` : ''}${opts.instancePayouts} withdrawals round-robin over ${WALLETS} wallets, after ${WARMUP_PER_WALLET * WALLETS} warm-up ones, first publish → every wallet's pending nonce at its share; instances ${describe(one)}; ${describe(many)}`,
    };
  } finally {
    await delay?.close();
    await setGasLimit(latest.gasLimit).catch(() => {});
  }
}
