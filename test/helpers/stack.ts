import type { Config, QueueConfig } from '../../src/config/types.js';
import type { Service, ServiceTuning } from '../../src/service.js';
import type { PayoutRow } from '../../src/store/schema.js';
import { createTestChain, type TestChain } from './chain.js';
import { createTestDatabase, type DbKind, type TestDatabase } from './db.js';
import { importWallets, signedWithdraw, type TestWallet } from './payouts.js';
import {
  amqpUrlVia,
  type BusinessClient,
  type Collector,
  createBusinessClient,
  createTestQueues,
  TEST_AMQP_URL,
  type TestQueues,
} from './rabbit.js';
import { type RpcProxy, startRangeLimitedRpc } from './rpc-proxy.js';
import { signedTopup, startTestService, testConfig, testTuning, until } from './service.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/** The response queues a stack can collect from the start (its key in Config['rmq']). */
export type ResponseRole = 'topupResp' | 'withdrawResp' | 'payResp';

export interface StartStackOptions {
  db: DbKind;
  /**
   * The chain to run on, left running by teardown (several stacks can share one). Default: a new anvil
   * (mining under the test's control) with TestUSDT deployed, stopped by teardown.
   */
  chain?: TestChain;
  /** Setup on the chain before the service starts (funding, blacklisting): not under test. */
  prepareChain?: (chain: TestChain) => Promise<unknown>;
  /** Keys put in the vault before the service starts (as `wallet import` would), in this order. */
  wallets?: TestWallet[];
  /** The config's collection wallet; imported after `wallets` unless it is one of them. */
  collection?: TestWallet;
  /**
   * The service reaches these through a proxy of the stack's (see `proxies`): the node's HTTP JSON-RPC
   * (`true`: passing every call; `{ maxLogRange }`: refusing wider eth_getLogs ranges, as hosted nodes
   * do), the node's WebSocket and the broker through TCP proxies that can be cut.
   */
  viaProxies?: { rpc?: boolean | { maxLogRange: number }; ws?: boolean; broker?: boolean };
  /** The node's HTTP JSON-RPC URL the service uses, when the test runs its own proxy in front of the chain. */
  rpcUrl?: string;
  /** Default 3. */
  confirmHeight?: number;
  replaceAfterBlocks?: number;
  /** Replaces these alert settings of the default config. */
  alerts?: Partial<Config['alerts']>;
  /** Default testTuning. */
  tuning?: ServiceTuning;
  /** Response queues collected from before the service starts; the others are left alone. */
  collect?: ResponseRole[];
  /** Changes the config before the service starts (more chains, other settings). */
  configure?: (config: Config) => void;
}

export interface StackProxies {
  rpc?: RpcProxy;
  ws?: TcpProxy;
  broker?: TcpProxy;
}

export interface TestStack {
  chain: TestChain;
  db: TestDatabase;
  config: Config;
  queues: TestQueues;
  /** A business system on the broker (directly, never through the proxy). */
  business: BusinessClient;
  proxies: StackProxies;
  /** The service running now (a new one after `restart`). */
  readonly service: Service;
  /** Log lines of the service running now. */
  readonly logs: string[];
  /** The collector of a response queue named in `collect`. */
  collector(role: ResponseRole): Collector;
  /** http://host:port of the service's HTTP server. */
  baseUrl(): string;
  /** Stops the service and starts a new one on the same database, queues and chain. */
  restart(): Promise<void>;
  publish(queue: QueueConfig, body: string): Promise<void>;
  /** Publishes a signed topup for `address` (USDT on ETH unless told) and waits until the service watches it. */
  watch(address: string, asset?: { chain?: string; symbol?: string }): Promise<void>;
  /** Publishes a signed withdraw request (or a payment, with `queue` = queues.pay). */
  withdraw(fields: Parameters<typeof signedWithdraw>[0], queue?: QueueConfig): Promise<void>;
  payout(queueId: string): Promise<PayoutRow | undefined>;
  /** Waits until the payout is in one of `states`. */
  waitState(queueId: string, states: string[], timeoutMs?: number): Promise<PayoutRow>;
  /** Waits until the watcher has processed the node's head and every outbox row went out. */
  settled(): Promise<void>;
  /** Stops the service and removes everything the stack made: queues, database, proxies, its anvil. */
  teardown(): Promise<void>;
}

/**
 * One service under test with its own database, queues and (unless given) anvil, and a business client
 * to talk to it: what the end-to-end suites start from.
 */
export async function startStack(options: StartStackOptions): Promise<TestStack> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    const errors: unknown[] = [];
    for (const fn of cleanups.reverse()) await fn().catch((err: unknown) => errors.push(err));
    cleanups.length = 0;
    if (errors.length > 0) throw new AggregateError(errors, 'stack teardown failed');
  };
  try {
    let chain = options.chain;
    if (!chain) {
      const own = await createTestChain({ noMining: true });
      cleanups.push(() => own.stop());
      await own.deployToken();
      chain = own;
    }
    await options.prepareChain?.(chain);

    const proxies: StackProxies = {};
    const via = options.viaProxies ?? {};
    if (via.rpc) {
      const maxLogRange = via.rpc === true ? Number.POSITIVE_INFINITY : via.rpc.maxLogRange;
      const rpc = await startRangeLimitedRpc(chain.anvil.rpcUrl, maxLogRange);
      cleanups.push(() => rpc.close());
      proxies.rpc = rpc;
    }
    if (via.ws) {
      const node = new URL(chain.anvil.wsUrl);
      const ws = await startTcpProxy(node.hostname, Number(node.port));
      cleanups.push(() => ws.close());
      proxies.ws = ws;
    }
    if (via.broker) {
      const amqp = new URL(TEST_AMQP_URL);
      const broker = await startTcpProxy(amqp.hostname, Number(amqp.port || 5672));
      cleanups.push(() => broker.close());
      proxies.broker = broker;
    }

    const db = await createTestDatabase(options.db);
    cleanups.push(() => db.cleanup());
    const wallets = [...(options.wallets ?? [])];
    const { collection } = options;
    if (collection && !wallets.some((w) => w.address === collection.address)) wallets.push(collection);
    if (wallets.length > 0) await importWallets(db.config, wallets);

    const queues = createTestQueues(proxies.broker ? { url: amqpUrlVia(proxies.broker.address) } : {});
    cleanups.push(() => queues.cleanup());
    const config = testConfig({
      chain,
      queues,
      db: db.config,
      confirmHeight: options.confirmHeight ?? 3,
      rpcUrl: options.rpcUrl ?? proxies.rpc?.url,
      wsUrl: proxies.ws ? `ws://${proxies.ws.address}` : undefined,
      collectionAddressLc: options.collection?.address,
      replaceAfterBlocks: options.replaceAfterBlocks,
    });
    if (options.alerts) config.alerts = { ...config.alerts, ...options.alerts };
    options.configure?.(config);

    const business = await createBusinessClient();
    cleanups.push(() => business.close());
    const collectors = new Map<ResponseRole, Collector>();
    for (const role of options.collect ?? []) collectors.set(role, await business.collect(queues[role]));

    const tuning = options.tuning ?? testTuning;
    let started = await startTestService(config, tuning);
    cleanups.push(() => started.service.stop());

    const payout = (queueId: string) =>
      started.service.db
        .selectFrom('payouts')
        .selectAll()
        .where('queue_id', '=', queueId)
        .executeTakeFirst() as Promise<PayoutRow | undefined>;

    const stack: TestStack = {
      chain,
      db,
      config,
      queues,
      business,
      proxies,
      get service() {
        return started.service;
      },
      get logs() {
        return started.logs;
      },
      collector(role) {
        const collector = collectors.get(role);
        if (!collector) throw new Error(`startStack({ collect: ['${role}'] }) to collect ${role}`);
        return collector;
      },
      baseUrl() {
        const address = started.service.httpAddress();
        if (!address) throw new Error('the service has no HTTP server');
        return `http://${address.host}:${address.port}`;
      },
      async restart() {
        await started.service.stop();
        started = await startTestService(config, tuning);
      },
      publish: (queue, body) => business.publishRequest(queue, body),
      async watch(address, { chain = 'ETH', symbol = 'USDT' } = {}) {
        await business.publishRequest(queues.topup, signedTopup(address, { chain, symbol }));
        await until(
          () =>
            started.service.db
              .selectFrom('watched_addresses')
              .select('address')
              .where('address', '=', address.toLowerCase())
              .where('chain', '=', chain)
              .where('symbol', '=', symbol)
              .executeTakeFirst(),
          20_000,
          `${address} watched for ${symbol} on ${chain}`,
        );
      },
      withdraw: (fields, queue = queues.withdraw) => business.publishRequest(queue, signedWithdraw(fields)),
      payout,
      waitState: (queueId, states, timeoutMs = 30_000) =>
        until(
          async () => {
            const p = await payout(queueId);
            return p && states.includes(p.state) ? p : undefined;
          },
          timeoutMs,
          `payout ${queueId} in ${states.join('/')}`,
        ),
      async settled() {
        const head = Number(await chain.blockNumber());
        await until(
          () => (started.service.watcher.status().tip ?? -1) >= head,
          20_000,
          `watcher at block ${head}`,
        );
        await until(async () => (await started.service.relay.backlog()) === 0, 20_000, 'outbox drained');
        await new Promise((r) => setTimeout(r, 200)); // let delivered messages reach the collectors
      },
      teardown: cleanup,
    };
    return stack;
  } catch (err) {
    await cleanup().catch(() => {});
    throw err;
  }
}
