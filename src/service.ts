import { type Consumer, createBroker } from './amqp/connection.js';
import { createChainContext, verifyChainId } from './chain/context.js';
import { createBlockWatcher } from './chain/watcher.js';
import type { Config } from './config/types.js';
import { createCommon } from './context/common.js';
import { createTopupHandler } from './deposits/topup.js';
import { createDepositTracker } from './deposits/tracker.js';
import { PaymentError } from './internal/errors.js';
import { createLogger, type Logger } from './internal/logger.js';
import { createMetrics } from './internal/metrics.js';
import type { PartialOptions } from './internal/options.js';
import { createMetricHooks } from './monitor/hooks.js';
import { createMonitor } from './monitor/monitor.js';
import { createOutboxRelay } from './outbox/relay.js';
import { createPayoutEngine } from './payouts/engine.js';
import { createPayoutRequestHandler } from './payouts/requests.js';
import { createHttpServer } from './server/http.js';
import { monitorRoutes } from './server/monitor-routes.js';
import { createDatabase } from './store/db.js';
import { migrateToLatest } from './store/migrate.js';
import { parseMasterKey } from './vault/master-key.js';
import { createVault } from './vault/vault.js';

export interface ServiceTuning extends PartialOptions {
  /** Listen on this HTTP port instead of the config's. */
  httpPort?: number;
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
  const stopSignal = new AbortController();
  const common = createCommon({
    config,
    logger,
    metrics: createMetricHooks(metrics),
    stop: stopSignal.signal,
    options: tuning,
  });

  let chain: Awaited<ReturnType<typeof createChainContext>>;
  try {
    chain = await createChainContext(common, config.chain);
  } catch (err) {
    await store.close();
    throw err;
  }
  const { db } = store;
  const broker = createBroker(common, {
    url: config.rmq.url,
    rmq: config.rmq,
    heartbeatS: common.options.broker.heartbeatS,
  });
  const relay = createOutboxRelay(common, { db, broker });
  const wakeRelay = () => relay.notify();
  const tracker = createDepositTracker(common, { chain, signKey, afterCommit: wakeRelay });
  const watcher = createBlockWatcher(common, { db, chain, sink: tracker });
  const topupHandler = createTopupHandler(common, { db, signKey, afterCommit: wakeRelay });
  const payouts = createPayoutEngine(common, { db, chain, signKey, vault, afterCommit: wakeRelay });
  watcher.onBlock(() => payouts.poke());
  watcher.onReorg(() => payouts.poke(true));
  const payoutHandler = (kind: 'withdraw' | 'pay') =>
    createPayoutRequestHandler(common, {
      db,
      signKey,
      kind,
      afterCommit: () => {
        relay.notify();
        payouts.poke();
      },
    });
  const http = createHttpServer(common, {
    host: config.http.host,
    port: tuning.httpPort ?? config.http.port,
    readiness: {
      database: async () => {
        await store.ping();
        return undefined;
      },
      broker: async () => (broker.isConnected() ? undefined : 'not connected'),
      node: async () => {
        await chain.rpc.getBlockNumber();
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
  const monitor = createMonitor(common, {
    db,
    chain,
    metrics,
    watcher,
    relay,
    broker,
    consumers: () => consumers,
  });
  for (const [path, handler] of Object.entries(monitorRoutes({ registry: metrics.registry, monitor })))
    http.route(path, handler);

  let httpAddress: { host: string; port: number } | undefined;
  let stopped = false;

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
        await verifyChainId(chain, config.chain.chainId);
      } catch (err) {
        await this.stop();
        throw err;
      }
      httpAddress = await http.start();
      relay.start();
      watcher.start();
      payouts.start();
      const prefetch = {
        prefetch: common.options.consumer.prefetch,
        onDeadLetter: (queue: string) => common.metrics.deadLetter(queue),
      };
      consumers.push(broker.createConsumer(config.rmq.topup, topupHandler, prefetch));
      consumers.push(broker.createConsumer(config.rmq.withdraw, payoutHandler('withdraw'), prefetch));
      consumers.push(broker.createConsumer(config.rmq.pay, payoutHandler('pay'), prefetch));
      // Requests published before the queues exist would be dropped by the broker: give it a moment to
      // declare them. A broker that is down does not stop the start: deposits are recorded meanwhile.
      if (!(await broker.waitReady(common.options.broker.startWaitMs)))
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
            if (broker.isConnected()) await relay.flush(common.options.relay.flushOnStopMs);
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
          logger.warn({ err, part: name }, 'error while stopping');
        }
      }
      stopSignal.abort();
      logger.info('service stopped');
    },
  };
}
