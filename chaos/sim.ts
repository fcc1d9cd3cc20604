/**
 * One chaos run: the real service (child processes) on anvil, RabbitMQ and MariaDB, behind a faulty
 * node, TCP proxies that are cut, SIGKILLs, reorgs, bad messages and several instances; then the
 * invariants of verify.ts against chain truth and every answer. Everything is on 127.0.0.1, bounded in
 * count and time, and removed at the end (or by `cleanupChaos` on SIGINT).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Address, formatUnits } from 'viem';
import { createDatabase, type DatabaseHandle } from '../src/store/db.js';
import { deployTestBatcher } from '../test/helpers/batcher.js';
import { createTestChain } from '../test/helpers/chain.js';
import { createTestDatabase } from '../test/helpers/db.js';
import { importWallets, signedWithdraw } from '../test/helpers/payouts.js';
import { toV2Json, writeJson } from '../test/helpers/process.js';
import { amqpUrlVia, createBusinessClient, createTestQueues, TEST_AMQP_URL } from '../test/helpers/rabbit.js';
import { signedTopup, TEST_MASTER_KEY, TEST_SIGN_KEY, testConfig } from '../test/helpers/service.js';
import { type CutMode, startTcpProxy, type TcpProxy } from '../test/helpers/tcp-proxy.js';
import { BATCH, batcherChainTxs, batchSection, readBatches } from './batches.js';
import { createChaosChain } from './chain.js';
import { unanswered } from './drain.js';
import { createInstances } from './instances.js';
import { badMessages, type RequestRole } from './malformed.js';
import type { ChaosOptions } from './options.js';
import { createRandom } from './random.js';
import { mergeVerdicts, reportLines } from './report.js';
import { startNodeFaults } from './rpc.js';
import {
  createTreasuryWatch,
  issueWallets,
  readTreasury,
  SWEEP,
  sweepSection,
  treasuryChainTxs,
} from './sweeps.js';
import { type PayoutRequest, type Verdict, verify } from './verify.js';
import { verifyBatches } from './verify-batches.js';
import { verifySweeps } from './verify-sweeps.js';
import { planWorkload, USDT } from './workload.js';

export interface ChaosReport extends Verdict {
  /** `[figure, value]` in the order they are printed. */
  lines: [string, number | string][];
}

const DECIMALS = 6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cleanups: (() => Promise<unknown>)[] = [];

/** Removes whatever the current run made (service processes, proxies, database, queues, anvil). */
export async function cleanupChaos(log: (s: string) => void = () => {}): Promise<void> {
  while (cleanups.length > 0)
    await cleanups.pop()!().catch((err: unknown) => log(`cleanup: ${(err as Error).message ?? err}`));
}

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(250);
  }
}

/** How long the faulty part of a run lasts: enough for its events to spread out, a few minutes by default. */
export function mainPhaseMs(o: ChaosOptions): number {
  const s =
    20 +
    0.1 * (o.payouts + o.deposits) +
    3 * o.kills +
    o.reorgs +
    2 * (o.brokerCuts + o.dbCuts) +
    o.malformed / 500;
  return Math.round(s * 1000);
}

type Event =
  | { at: number; kind: 'deposit'; to: Address; raw: bigint }
  | { at: number; kind: 'payout'; payout: PayoutRequest }
  | { at: number; kind: 'kill' | 'reorg' | 'brokerCut' | 'dbCut' | 'second' }
  | { at: number; kind: 'bad'; from: number; to: number };

export async function runChaos(o: ChaosOptions, log: (s: string) => void = () => {}): Promise<ChaosReport> {
  const t0 = Date.now();
  const progress = (s: string) => log(`# ${((Date.now() - t0) / 1000).toFixed(1)}s ${s}`);
  const random = createRandom(o.seed);
  const plan = random.fork('plan');
  const workDir = mkdtempSync(join(tmpdir(), 'm2p-chaos-'));
  cleanups.push(async () => rmSync(workDir, { recursive: true, force: true }));
  try {
    // The chain: anvil without automine, TestUSDT, funded payers, a collection wallet, deposit senders.
    const chain = await createTestChain({ noMining: true });
    cleanups.push(() => chain.stop());
    await chain.deployToken();
    const { payers, collection, payouts, need, deposits, depositAddresses } = planWorkload(plan, o);
    for (const w of [...payers, collection]) {
      await chain.setEthBalance(w.address, 100n * 10n ** 18n);
      await chain.mint(w.address, 2n * (need.get(w.address) ?? 0n) + 100n * USDT);
    }
    for (let s = 1; s <= 9; s++) await chain.mint(chain.accounts[s]!.address, 10n ** 9n * USDT);
    // The batcher, owned by the collection wallet (its nonce 0), before the service or the faults start.
    const batcher = o.batches ? await deployTestBatcher(chain, collection) : undefined;
    const floor = Number(await chain.blockNumber());
    const collectionStart = await chain.balanceOf(collection.address);
    const cc = await createChaosChain(chain, random.fork('chain'), floor);
    progress(`anvil ${chain.anvil.rpcUrl}, token ${chain.token}, setup to block ${floor}`);

    // What the service talks to: the fault proxy before anvil, TCP proxies before RabbitMQ and MariaDB.
    const node = await startNodeFaults(
      { httpUrl: chain.anvil.rpcUrl, wsUrl: chain.anvil.wsUrl },
      { seed: o.seed, lagBlocks: o.lagBlocks },
    );
    cleanups.push(() => node.close());
    const amqp = new URL(TEST_AMQP_URL);
    const broker = await startTcpProxy(amqp.hostname, Number(amqp.port || 5672));
    cleanups.push(() => broker.close());
    const db = await createTestDatabase('mysql');
    cleanups.push(() => db.cleanup());
    if (db.config.driver !== 'mysql') throw new Error('the chaos run needs MariaDB');
    const dbProxy = await startTcpProxy(db.config.host, db.config.port);
    cleanups.push(() => dbProxy.close());
    await importWallets(db.config, [...payers, collection]);
    const queues = createTestQueues({ url: amqpUrlVia(broker.address) });
    cleanups.push(() => queues.cleanup());
    const config = testConfig({
      chain,
      queues,
      db: { ...db.config, host: dbProxy.host, port: dbProxy.port },
      confirmHeight: o.confirmHeight,
      rpcUrl: node.httpUrl,
      wsUrl: node.wsUrl,
      collectionAddressLc: collection.address,
    });
    // Sweeping: an HD root and issued deposit wallets before the service starts, and the chain's section.
    const issued = o.sweeps > 0 ? await issueWallets(db.config, config, random.fork('hd'), o.sweeps) : [];
    const json = toV2Json(config);
    if (issued.length > 0)
      (json.eth_config as Record<string, unknown>).sweep = sweepSection(collection.address);
    if (batcher) (json.eth_config as Record<string, unknown>).batch = batchSection(batcher);
    const configPath = join(workDir, 'config.json');
    writeJson(configPath, json);
    if (issued.length > 0) progress(`${issued.length} deposit wallets issued from an HD root, swept`);
    if (batcher)
      progress(`batcher ${batcher}: batches of up to ${BATCH.maxSize}, waiting up to ${BATCH.maxWaitMs} ms`);

    // The business: straight to the broker, collecting every answer from before the service starts.
    const business = await createBusinessClient();
    cleanups.push(() => business.close());
    const answers = {
      topup: await business.collect(queues.topupResp),
      withdraw: await business.collect(queues.withdrawResp),
      pay: await business.collect(queues.payResp),
    };
    const view: DatabaseHandle = await createDatabase(db.config);
    cleanups.push(() => view.close());

    const instances = createInstances(configPath, {
      PAYMENT_SIGN_KEY: TEST_SIGN_KEY,
      PAYMENT_MASTER_KEY: TEST_MASTER_KEY,
      LOG_LEVEL: 'info',
    });
    cleanups.push(() => instances.stopAll(5_000));
    for (let i = 0; i < o.instances; i++) instances.start();
    await waitFor(() => instances.logged(/"msg":"service started"/), 120_000, 'the service started');
    progress('service started');

    // Deposit addresses registered (and seen watched) before anything is sent to them.
    for (const a of depositAddresses) await business.publishRequest(queues.topup, signedTopup(a));
    await waitFor(
      async () => {
        const rows = await view.db
          .selectFrom('watched_addresses')
          .select('address')
          .where('address', 'in', depositAddresses)
          .execute();
        return new Set(rows.map((r) => r.address)).size >= depositAddresses.length;
      },
      120_000,
      `${depositAddresses.length} addresses watched`,
    );
    progress(`${depositAddresses.length} deposit addresses watched`);

    // The plan of the faulty phase, all from the seed.
    const D = mainPhaseMs(o);
    const at = (from: number, to: number) => Math.round(D * (from + plan.next() * (to - from)));
    const events: Event[] = [];
    // A share of the deposits goes to the issued wallets, so sweep rounds run under every fault.
    const toIssued = random.fork('issued');
    for (const raw of deposits) {
      const when = at(0, 0.85);
      const to = plan.pick(depositAddresses);
      const swept = issued.length > 0 && toIssued.chance(0.4);
      events.push({ at: when, kind: 'deposit', to: swept ? toIssued.pick(issued) : to, raw });
    }
    for (const payout of payouts) events.push({ at: at(0, 0.85), kind: 'payout', payout });
    for (let i = 0; i < o.kills; i++) events.push({ at: at(0.05, 0.9), kind: 'kill' });
    for (let i = 0; i < o.reorgs; i++) events.push({ at: at(0.05, 1), kind: 'reorg' });
    for (let i = 0; i < o.brokerCuts; i++) events.push({ at: at(0, 0.9), kind: 'brokerCut' });
    for (let i = 0; i < o.dbCuts; i++) events.push({ at: at(0, 0.9), kind: 'dbCut' });
    if (o.secondInstance) events.push({ at: at(0.3, 0.5), kind: 'second' });
    const bad = badMessages(random.fork('bad'), o.malformed, TEST_SIGN_KEY, `bad-${o.seed}`);
    for (let i = 0; i < bad.length; i += 50)
      events.push({ at: at(0, 0.9), kind: 'bad', from: i, to: Math.min(i + 50, bad.length) });
    events.sort((a, b) => a.at - b.at);

    const figures = {
      kills: 0,
      reorgs: 0,
      reorg_blocks: 0,
      deposits_moved: 0,
      deposits_replaced: 0,
      broker_cuts: 0,
      db_cuts: 0,
      malformed: 0,
      second_instance: 0,
    };
    const background: Promise<unknown>[] = [];
    const cutChains = new Map<TcpProxy, Promise<unknown>>();
    const cut = (proxy: TcpProxy, figure: 'broker_cuts' | 'db_cuts', r = random.fork(figure)) => {
      const mode: CutMode = r.chance(0.5) ? 'reset' : 'blackhole';
      const ms = r.int(2_000, 10_000);
      const next = (cutChains.get(proxy) ?? Promise.resolve()).then(async () => {
        proxy.cut(mode);
        figures[figure]++;
        await sleep(ms);
        proxy.restore();
      });
      cutChains.set(proxy, next);
      background.push(next);
    };

    let mining = true;
    const minerRandom = random.fork('miner');
    const miner = (async () => {
      while (mining) {
        await cc.mine(1);
        await sleep(minerRandom.int(300, 900));
      }
    })();
    cleanups.push(async () => {
      mining = false;
      await miner.catch(() => {});
    });

    progress(`faulty phase: ${events.length} events over ${(D / 1000).toFixed(0)} s`);
    const mainStart = Date.now();
    const killRandom = random.fork('kill');
    const reorgRandom = random.fork('reorg');
    // With several instances from the start, the kills fall on any of them (the lease holders included);
    // forked only then, so a run of one instance keeps the schedule its seed always had.
    const victimRandom = o.instances > 1 ? random.fork('victim') : undefined;
    const victim = victimRandom && ((n: number) => victimRandom.int(0, n - 1));
    for (const e of events) {
      const wait = mainStart + e.at - Date.now();
      if (wait > 0) await sleep(wait);
      switch (e.kind) {
        case 'deposit':
          await cc.sendDeposit(e.to, e.raw);
          break;
        case 'payout': {
          const p = e.payout;
          const body = signedWithdraw({
            queue_id: p.queueId,
            from_address: p.from,
            to_address: p.to,
            amount: formatUnits(p.raw, DECIMALS),
            ...(p.orderId ? { order_id: p.orderId } : {}),
          });
          await business.publishRequest(p.role === 'pay' ? queues.pay : queues.withdraw, body);
          break;
        }
        case 'kill':
          background.push(
            instances.killOne(killRandom.int(200, 3_000), victim).then((killed) => {
              if (killed) figures.kills++;
            }),
          );
          break;
        case 'reorg': {
          // Mostly after the service has seen the head, so the reorg takes back what it already reported.
          if (reorgRandom.chance(0.7)) {
            const head = Number(await chain.blockNumber());
            await waitFor(
              async () => {
                const row = await view.db
                  .selectFrom('chain_blocks')
                  .select((eb) => eb.fn.max('number').as('tip'))
                  .executeTakeFirst();
                return Number(row?.tip ?? 0) >= head;
              },
              5_000,
              'the service at the head',
            ).catch(() => {});
          }
          const r = await cc.reorg(reorgRandom.int(1, o.confirmHeight - 1));
          figures.reorgs++;
          figures.reorg_blocks += r.depth;
          figures.deposits_moved += r.moved;
          figures.deposits_replaced += r.replaced;
          break;
        }
        case 'brokerCut':
          cut(broker, 'broker_cuts');
          break;
        case 'dbCut':
          cut(dbProxy, 'db_cuts');
          break;
        case 'second':
          instances.start();
          figures.second_instance = 1;
          break;
        case 'bad':
          for (const b of bad.slice(e.from, e.to)) {
            const role: RequestRole = b.role;
            await business.publishRequest(queues[role], b.body);
            figures.malformed++;
          }
          break;
      }
    }
    await Promise.all(background);
    const faultsOverAt = Date.now();
    progress(
      `faults over (${figures.kills} kills, ${figures.reorgs} reorgs, ${figures.broker_cuts}+${figures.db_cuts} cuts); draining`,
    );

    // Drain: the node stays faulty, blocks keep coming, until every answer the chain calls for is in.
    const answered = {
      topup: answers.topup.messages,
      withdraw: answers.withdraw.messages,
      pay: answers.pay.messages,
    };
    const outstanding = async () =>
      unanswered({
        payouts,
        bad,
        deposits: cc.deposits.values(),
        transfers: await cc.transfers(floor),
        answers: answered,
      });
    // The treasury, meanwhile, comes to rest: every deposit wallet swept, no round storing anything more.
    const rest = createTreasuryWatch(view, chain, issued);
    const quietMs = (SWEEP.intervalSeconds + 5) * 1_000;
    const drainEnd = Date.now() + o.drainS * 1000;
    let left = await outstanding();
    let quiet = await rest.quietFor(quietMs);
    while ((left.missingPayouts > 0 || left.missingDeposits > 0 || !quiet) && Date.now() < drainEnd) {
      await sleep(3_000);
      left = await outstanding();
      quiet = await rest.quietFor(quietMs);
    }
    progress(
      `drained: ${left.missingPayouts} payouts and ${left.missingDeposits} deposits still unanswered; ${rest.describe()}`,
    );
    // A few more blocks and seconds, so late duplicates or contradictions show up too; the treasury still
    // at rest after them (checked last: nothing of it may be left in flight when the blocks stop).
    await sleep(o.confirmHeight * 1_000);
    const restEnd = Date.now() + 3 * quietMs;
    while (!(await rest.quietFor(quietMs)) && Date.now() < restEnd) await sleep(2_000);
    if (issued.length > 0) progress(`treasury: ${rest.describe()}`);
    mining = false;
    await miner;
    await instances.stopAll(10_000);
    await sleep(2_000);

    const count = async (name: string) => (await business.queueMessageCount(name)) ?? 0;
    const roles = ['topup', 'withdraw', 'pay'] as const;
    const dlq = Object.fromEntries(
      await Promise.all(roles.map(async (r) => [r, await count(`${queues[r].queue}.dlq`)])),
    ) as Record<RequestRole, number>;
    const leftInQueue = Object.fromEntries(
      await Promise.all(roles.map(async (r) => [r, await count(queues[r].queue)])),
    ) as Record<RequestRole, number>;
    const transfers = await cc.transfers(floor);
    const verdict = verify({
      signKey: TEST_SIGN_KEY,
      decimals: DECIMALS,
      payouts,
      deposits: [...cc.deposits.values()],
      bad,
      answers: answered,
      transfers,
      dlq,
      leftInQueue,
      crashes: instances.crashes,
    });

    const treasury = await readTreasury(view);
    for (const p of treasury.payouts.filter((r) => r.state === 'failed'))
      progress(`${p.queue_id} failed: ${p.error_code} ${p.error_message ?? ''}`.trim());
    const balances = new Map<string, bigint>();
    for (const a of [...issued, collection.address]) balances.set(a, await chain.balanceOf(a));
    const swept = verifySweeps({
      wallets: issued,
      collection: collection.address,
      minAmountRaw: SWEEP.minAmountRaw,
      records: treasury,
      chainTxs: await treasuryChainTxs(chain, floor, issued, collection.address),
      transfers,
      deposits: [...cc.deposits.values()],
      payouts,
      answers: answered,
      balances,
      collectionStart,
      faultsOverAt,
    });
    const batchRecords = await readBatches(view);
    for (const b of batchRecords.batches.filter((r) => r.state === 'failed'))
      progress(`batch ${b.queue_id} failed: ${b.error_code ?? ''} (reverted ${b.reverted})`);
    const batched = verifyBatches({
      collection: collection.address,
      records: batchRecords,
      chainTxs: batcher ? await batcherChainTxs(chain, floor, collection.address, batcher) : [],
      transfers,
      payouts,
      answers: answered,
    });
    const all = mergeVerdicts(verdict, swept, batched);
    const lines = reportLines(
      o,
      {
        payouts: payouts.length,
        deposits: cc.deposits.size,
        instancesStarted: instances.started,
        rpc: node.counts(),
        injected: figures,
        seconds: Math.round((Date.now() - t0) / 1000),
      },
      all,
    );
    return { ...all, lines };
  } finally {
    await cleanupChaos(progress);
  }
}
