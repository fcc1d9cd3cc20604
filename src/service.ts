import { type Consumer, createBroker } from './amqp/connection.js';
import { type ChainContext, createChainContext, verifyChainId } from './chain/context.js';
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
import { createHttpServer, type ReadinessCheck } from './server/http.js';
import { monitorRoutes } from './server/monitor-routes.js';
import { createDatabase, type DatabaseHandle } from './store/db.js';
import { acquireInstanceLock, type InstanceLock } from './store/instance-lock.js';
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
  /**
   * Aborts a start in progress: the standby wait for the instance lock and the retries of the node at
   * start. (`stop()` aborts them too.)
   */
  signal?: AbortSignal;
  /**
   * Called when the service stopped itself because it can no longer run safely (the instance lock was
   * lost). Without it the service just stops.
   */
  onFatal?: (err: Error) => void;
}

export type Service = Awaited<ReturnType<typeof createService>>;

/**
 * Wires the parts. First the instance lock (src/store/instance-lock.ts): while another instance holds the
 * database this waits as a standby, with HTTP up (`/health` 200, `/ready` 503 naming the standby). Then the
 * database (migrated), the vault check, the chain RPC and watcher, deposit tracker, RabbitMQ consumers,
 * the outbox relay, and HTTP. `start()` returns once everything runs; `stop()` drains and closes.
 */
export async function createService(options: CreateServiceOptions) {
  const { config, signKey } = options;
  const logger = options.logger ?? createLogger();
  const tuning = options.tuning ?? {};
  if (!signKey)
    throw new PaymentError('no_sign_key', 'no signing secret: pass --key SECRET or set PAYMENT_SIGN_KEY');
  const masterKey = parseMasterKey(options.masterKey);

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

  // Aborts what a start waits for (the instance lock, the node): options.signal or stop().
  const starting = new AbortController();
  const abortStart = () => starting.abort();
  if (options.signal?.aborted) starting.abort();
  options.signal?.addEventListener('abort', abortStart, { once: true });

  // HTTP is made first: a standby answers /health, and /ready says why it is not ready. The other
  // readiness checks are added once their parts exist.
  let phase: 'waiting' | 'standby' | 'starting' | 'running' | 'stopping' = 'waiting';
  let standbyOn = '';
  const readiness: Record<string, ReadinessCheck> = {
    instance: async () => {
      if (phase === 'running') return undefined;
      if (phase === 'standby') return `standby: another instance holds the database (${standbyOn})`;
      return phase;
    },
  };
  const http = createHttpServer(common, {
    host: config.http.host,
    port: tuning.httpPort ?? config.http.port,
    readiness,
  });
  let httpAddress: { host: string; port: number } | undefined;

  let lock: InstanceLock | undefined;
  let lockLost = false;
  let store: DatabaseHandle | undefined;
  let chain: ChainContext;
  // Set once the service object exists; the lock can only be lost after that.
  let stopOnLost: ((err: Error) => void) | undefined;
  try {
    lock = await acquireInstanceLock(config.db, logger, {
      wait: true,
      signal: starting.signal,
      onLost: (err) => {
        lockLost = true;
        stopOnLost?.(err);
      },
      onStandby: async (what) => {
        phase = 'standby';
        standbyOn = what;
        try {
          httpAddress = await http.start();
        } catch (err) {
          // The active instance on this machine may have the port: /health comes with the takeover.
          logger.warn({ err }, 'standby: HTTP not started; it starts when this instance takes over');
        }
      },
    });
    phase = 'starting';
    store = await createDatabase(config.db, logger);
    await migrateToLatest(store.db);
  } catch (err) {
    await closeAfterFailedStart(err);
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
    chain = await createChainContext(common, config.chain, starting.signal);
  } catch (err) {
    await closeAfterFailedStart(err);
    throw err;
  }

  async function closeAfterFailedStart(err: unknown) {
    options.signal?.removeEventListener('abort', abortStart);
    logger.debug({ err }, 'start failed: closing');
    await store?.close();
    await lock?.release();
    await http.stop();
  }

  const database = store;
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
  Object.assign(readiness, {
    database: async () => {
      await database.ping();
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
  } satisfies Record<string, ReadinessCheck>);
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

  let stopped = false;
  const heldLock = lock;

  async function start() {
    try {
      await verifyChainId(common, chain, config.chain.chainId, starting.signal);
      httpAddress ??= await http.start();
    } catch (err) {
      await stop();
      throw err;
    }
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
    phase = 'running';
    logger.info(
      {
        chain: config.chain.name,
        confirmHeight: config.chain.confirmHeight,
        tokens: config.chain.tokens.map((t) => `${t.symbol}@${t.addressLc}`),
        db: config.db.driver,
        instanceLock: heldLock.what,
      },
      'service started',
    );
  }

  /** Stops taking messages, finishes what is in flight, flushes the outbox if it can, closes everything. */
  async function stop() {
    if (stopped) return;
    stopped = true;
    phase = 'stopping';
    starting.abort();
    options.signal?.removeEventListener('abort', abortStart);
    const steps: [string, () => Promise<unknown>][] = [
      ['monitor', () => monitor.stop()],
      ['consumers', () => Promise.all(consumers.map((c) => c.close()))],
      ['payouts', () => payouts.stop()],
      ['watcher', () => watcher.stop()],
      [
        'outbox',
        async () => {
          // Without the lock another instance may be publishing the same rows by now.
          if (broker.isConnected() && !lockLost) await relay.flush(common.options.relay.flushOnStopMs);
          await relay.stop();
        },
      ],
      ['broker', () => broker.close()],
      ['http', () => http.stop()],
      ['database', () => database.close()],
      // Last: a standby takes over only once this instance has finished.
      ['instance lock', () => heldLock.release()],
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
  }

  stopOnLost = (err) => {
    logger.error({ err }, 'the instance lock was lost: stopping, so that two instances never run together');
    void stop().then(() => options.onFatal?.(err));
  };
  if (lockLost) stopOnLost(new Error('the instance lock was lost during the start'));

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
    start,
    stop,
  };
}
