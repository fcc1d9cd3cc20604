import type { Hex } from 'viem';
import { type Consumer, createBroker } from './amqp/connection.js';
import { createChainRpc } from './chain/rpc.js';
import { createBlockWatcher, type WatcherTuning } from './chain/watcher.js';
import type { Config } from './config/types.js';
import { createTopupHandler } from './deposits/topup.js';
import { createDepositTracker } from './deposits/tracker.js';
import { errorMessage, PaymentError } from './internal/errors.js';
import { createLogger, type Logger } from './internal/logger.js';
import { createMetrics } from './internal/metrics.js';
import { createMetricHooks } from './monitor/hooks.js';
import { createMonitor, type MonitorTuning } from './monitor/monitor.js';
import { createOutboxRelay } from './outbox/relay.js';
import { createPayoutClient } from './payouts/chain.js';
import { createPayoutEngine, type PayoutTuning } from './payouts/engine.js';
import { createPayoutRequestHandler } from './payouts/requests.js';
import { createHttpServer } from './server/http.js';
import { monitorRoutes } from './server/monitor-routes.js';
import { createDatabase } from './store/db.js';
import { migrateToLatest } from './store/migrate.js';
import { parseMasterKey } from './vault/master-key.js';
import { createVault } from './vault/vault.js';

export interface ServiceTuning {
  watcher?: Partial<WatcherTuning>;
  payouts?: Partial<PayoutTuning>;
  /** Unacknowledged messages a consumer may hold. */
  prefetch?: number;
  /** Listen on this HTTP port instead of the config's (tests pass 0). */
  httpPort?: number;
  monitor?: Partial<MonitorTuning>;
}

export interface CreateServiceOptions {
  config: Config;
  /** The message-signing secret (PROTOCOL §2). */
  signKey: string;
  /** PAYMENT_MASTER_KEY: 64 hex characters (PROTOCOL §2). */
  masterKey: string | undefined;
  logger?: Logger;
  tuning?: ServiceTuning;
}

export type Service = Awaited<ReturnType<typeof createService>>;

/**
 * Wires the parts: database (migrated), chain RPC and watcher, deposit tracker, RabbitMQ consumers, the
 * outbox relay, and HTTP. `start()` returns once everything runs; `stop()` drains and closes.
 */
export async function createService(options: CreateServiceOptions) {
  const { config, signKey } = options;
  const logger = options.logger ?? createLogger();
  const tuning = options.tuning ?? {};
  if (!signKey)
    throw new PaymentError('no_sign_key', 'no signing secret: pass --key SECRET or set PAYMENT_SIGN_KEY');
  const masterKey = parseMasterKey(options.masterKey);

  const store = await createDatabase(config.db, logger);
  try {
    await migrateToLatest(store.db);
  } catch (err) {
    await store.close();
    throw err;
  }

  const vault = createVault({ db: store.db, masterKey });
  try {
    await vault.verifyMasterKey();
    const collection = config.chain.collectionAddressLc;
    if (collection && !(await vault.has(collection))) {
      throw new PaymentError(
        'collection_key_missing',
        `eth_config.collectionAddress ${collection} is not in the vault: import its key with \`m2pool-payment wallet import\``,
      );
    }
  } catch (err) {
    await store.close();
    throw err;
  }

  // ---- monitoring (1/2): metrics first, the parts below take their hooks at creation ----
  const metrics = createMetrics();
  const metricHooks = createMetricHooks(metrics);

  const rpc = createChainRpc({ rpcUrl: config.chain.rpcUrl, onError: metricHooks.rpcError });
  const chainId = config.chain.chainId ?? (await rpc.getChainId());
  const broker = createBroker({ logger }, { url: config.rmq.url, rmq: config.rmq });
  const relay = createOutboxRelay(
    { logger },
    { db: store.db, broker, onPublished: metricHooks.outboxPublished },
  );
  const tracker = createDepositTracker({
    logger,
    chain: config.chain.name,
    tokens: config.chain.tokens,
    confirmHeight: config.chain.confirmHeight,
    topupResp: config.rmq.topupResp,
    signKey,
    afterCommit: () => relay.notify(),
    onStatus: metricHooks.depositStatus,
  });
  const watcher = createBlockWatcher({
    logger,
    db: store.db,
    rpc,
    chain: config.chain.name,
    wsUrl: config.chain.wsUrl,
    tokenAddresses: config.chain.tokens.map((t) => t.addressLc as Hex),
    confirmHeight: config.chain.confirmHeight,
    sink: tracker,
    tuning: tuning.watcher,
  });
  const topupHandler = createTopupHandler({
    logger,
    db: store.db,
    config,
    signKey,
    afterCommit: () => relay.notify(),
  });
  const payouts = createPayoutEngine({
    logger,
    db: store.db,
    client: createPayoutClient(config.chain.rpcUrl),
    config,
    chainId,
    signKey,
    vault,
    afterCommit: () => relay.notify(),
    onTransition: metricHooks.payoutTransition,
    tuning: tuning.payouts,
  });
  watcher.onBlock(() => payouts.poke());
  watcher.onReorg(() => payouts.poke(true));
  const payoutHandler = (kind: 'withdraw' | 'pay') =>
    createPayoutRequestHandler({
      logger,
      db: store.db,
      config,
      signKey,
      kind,
      afterCommit: () => {
        relay.notify();
        payouts.poke();
      },
    });
  const http = createHttpServer({
    logger,
    host: config.http.host,
    port: tuning.httpPort ?? config.http.port,
    readiness: {
      database: async () => {
        await store.ping();
        return undefined;
      },
      broker: async () => (broker.isConnected() ? undefined : 'not connected'),
      node: async () => {
        await rpc.getBlockNumber();
        return undefined;
      },
      watcher: async () => {
        const s = watcher.status();
        if (s.caughtUp) return undefined;
        return s.backfilling
          ? `backfilling (block ${s.tip ?? '?'} of ${s.nodeHead ?? '?'})`
          : `behind the head by ${s.lag ?? '?'} blocks`;
      },
    },
  });
  const consumers: Consumer[] = [];

  // ---- monitoring (2/2): the sampler behind the gauges and alerts; /metrics, /status, / ----
  watcher.onBlock(metricHooks.block);
  watcher.onReorg(metricHooks.reorg);
  const monitor = createMonitor({
    logger,
    db: store.db,
    config,
    chainId,
    metrics,
    watcher,
    relay,
    broker,
    consumers: () => consumers,
    client: rpc.client,
    nodeLastOkAt: () => rpc.lastOkAt(),
    onRpcError: metricHooks.rpcError,
    tuning: tuning.monitor,
  });
  for (const [path, handler] of Object.entries(monitorRoutes({ registry: metrics.registry, monitor })))
    http.route(path, handler);

  let httpAddress: { host: string; port: number } | undefined;
  let stopped = false;

  async function checkChainId() {
    if (config.chain.chainId === undefined) return;
    const actual = await rpc.getChainId();
    if (actual !== config.chain.chainId) {
      throw new PaymentError(
        'chain_id_mismatch',
        `eth_config.chainId is ${config.chain.chainId} but the node at ${config.chain.rpcUrl} is on chain ${actual}`,
      );
    }
  }

  return {
    db: store.db,
    watcher,
    payouts,
    vault,
    relay,
    broker,
    logger,
    metrics,
    monitor,
    httpAddress: () => httpAddress,
    async start() {
      try {
        await checkChainId();
      } catch (err) {
        await this.stop();
        throw err;
      }
      httpAddress = await http.start();
      relay.start();
      watcher.start();
      payouts.start();
      const prefetch = { prefetch: tuning.prefetch, onDeadLetter: metricHooks.deadLetter };
      consumers.push(broker.createConsumer(config.rmq.topup, topupHandler, prefetch));
      consumers.push(broker.createConsumer(config.rmq.withdraw, payoutHandler('withdraw'), prefetch));
      consumers.push(broker.createConsumer(config.rmq.pay, payoutHandler('pay'), prefetch));
      // Requests published before the queues exist would be dropped by the broker: give it a moment to
      // declare them. A broker that is down does not stop the start: deposits are recorded meanwhile.
      if (!(await broker.waitReady(5_000)))
        logger.warn('RabbitMQ not reachable yet; retrying in the background');
      monitor.start();
      logger.info(
        {
          chain: config.chain.name,
          confirmHeight: config.chain.confirmHeight,
          tokens: config.chain.tokens.map((t) => `${t.symbol}@${t.addressLc}`),
          db: config.db.driver,
        },
        'service started',
      );
    },
    /** Stops taking messages, finishes what is in flight, flushes the outbox if it can, closes everything. */
    async stop() {
      if (stopped) return;
      stopped = true;
      const steps: [string, () => Promise<unknown>][] = [
        ['monitor', () => monitor.stop()],
        ['consumers', () => Promise.all(consumers.map((c) => c.close()))],
        ['payouts', () => payouts.stop()],
        ['watcher', () => watcher.stop()],
        [
          'outbox',
          async () => {
            if (broker.isConnected()) await relay.flush(3_000);
            await relay.stop();
          },
        ],
        ['broker', () => broker.close()],
        ['http', () => http.stop()],
        ['database', () => store.close()],
      ];
      for (const [name, step] of steps) {
        try {
          await step();
        } catch (err) {
          logger.warn({ err: errorMessage(err), part: name }, 'error while stopping');
        }
      }
      logger.info('service stopped');
    },
  };
}
