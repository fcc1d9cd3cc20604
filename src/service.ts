import { type Consumer, createBroker } from './amqp/connection.js';
import { createInstanceRegistry } from './cluster/instances.js';
import { createLeases, type Holding, type LeaseRole } from './cluster/lease.js';
import type { Config } from './config/types.js';
import { createCommon } from './context/common.js';
import { createTopupHandler } from './deposits/topup.js';
import { PaymentError, sleep } from './internal/errors.js';
import { createLogger, type Logger } from './internal/logger.js';
import { createMetrics } from './internal/metrics.js';
import type { PartialOptions } from './internal/options.js';
import { createChainLane } from './lane.js';
import { createMetricHooks } from './monitor/hooks.js';
import { createInstancesMonitor } from './monitor/instances.js';
import { createMonitor } from './monitor/monitor.js';
import { createOutboxRelay, leaseFence } from './outbox/relay.js';
import { createPayoutRequestHandler } from './payouts/requests.js';
import { createHttpServer, type ReadinessCheck } from './server/http.js';
import { monitorRoutes } from './server/monitor-routes.js';
import { createDatabase, type DatabaseHandle } from './store/db.js';
import { acquireInstanceLock, type InstanceLock } from './store/instance-lock.js';
import { migrateToLatest } from './store/migrate.js';
import { createAddressHandler } from './treasury/address-handler.js';
import { parseMasterKey } from './vault/master-key.js';
import { createVault } from './vault/vault.js';

/**
 * How long a start waits for every chain's node to give its chain id before the chains that answered
 * start without the others.
 */
const CHAIN_START_WAIT_MS = 10_000;

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
   * Called when the service stopped itself because it can no longer run safely (a chain's node found on
   * another chain after the start). Without it the service just stops.
   */
  onFatal?: (err: Error) => void;
}

export type Service = Awaited<ReturnType<typeof createService>>;

/**
 * Wires the parts. On SQLite first the instance lock (src/store/instance-lock.ts): while another instance
 * holds the file this waits as a standby, with HTTP up (`/health` 200, `/ready` 503 naming the standby).
 * Then the database (migrated), the vault check, this instance's row and leases (src/cluster/: on MySQL
 * several instances share the database), the chain RPC and watcher, deposit tracker, RabbitMQ consumers,
 * the outbox relay, and HTTP. `start()` returns once everything runs, or stands by for the leases another
 * instance holds; `stop()` drains, gives the leases up and closes.
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
  let store: DatabaseHandle | undefined;
  try {
    // SQLite: one instance per file, the second waits. MySQL: every instance runs; the leases below
    // decide which one does each piece of work that must not run twice.
    if (config.db.driver === 'sqlite')
      lock = await acquireInstanceLock(config.db, logger, {
        wait: true,
        signal: starting.signal,
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
    for (const chain of config.chains) {
      const collection = chain.collectionAddressLc;
      if (collection && !(await vault.has(collection))) {
        const where = chain === config.chain ? 'eth_config' : `chains.${chain.name}`;
        throw new PaymentError(
          'collection_key_missing',
          `${where}.collectionAddress ${collection} is not in the vault: import its key with \`m2pool-payment wallet import\``,
        );
      }
    }
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
  const instances = createInstanceRegistry(common, {
    db,
    httpAddr: () => (httpAddress ? `${httpAddress.host}:${httpAddress.port}` : undefined),
  });
  const leases = createLeases(common, { db, holder: instances.id });
  const broker = createBroker(common, {
    url: config.rmq.url,
    rmq: config.rmq,
    heartbeatS: common.options.broker.heartbeatS,
  });
  const relay = createOutboxRelay(common, { db, broker });
  const wakeRelay = () => relay.notify();
  // One lane per chain: its watcher, deposit tracker and payout engine (src/lane.ts).
  const lanes = config.chains.map((chain) =>
    createChainLane(common, {
      db,
      chain,
      metrics: createMetricHooks(metrics, chain.name),
      signKey,
      vault,
      afterCommit: wakeRelay,
      leases,
    }),
  );
  const topupHandler = createTopupHandler(common, { db, signKey, afterCommit: wakeRelay });
  const payoutHandler = (kind: 'withdraw' | 'pay') =>
    createPayoutRequestHandler(common, {
      db,
      signKey,
      kind,
      afterCommit: () => {
        relay.notify();
        // Which chain the request was for is in the row; a poke costs one indexed query per lane.
        for (const lane of lanes) lane.pokePayouts();
      },
    });
  Object.assign(readiness, {
    database: async () => {
      await database.ping();
      return undefined;
    },
    broker: async () => (broker.isConnected() ? undefined : 'not connected'),
  } satisfies Record<string, ReadinessCheck>);
  // `chain ETH: …`: one check per chain, so /ready names the chain whose node is down.
  for (const lane of lanes) readiness[`chain ${lane.name}`] = () => lane.readiness();
  const consumers: Consumer[] = [];

  // ---- monitoring (2/2): the sampler behind the gauges and alerts; /metrics, /status, / ----
  const monitor = createMonitor(common, {
    db,
    chains: lanes,
    metrics,
    relay,
    broker,
    consumers: () => consumers,
  });
  // Which instances run on the database and what each one leads: in /status, the page and the metrics.
  const instancesMonitor = createInstancesMonitor(common, { instances, registry: metrics.registry });
  const routes = monitorRoutes({
    registry: metrics.registry,
    monitor: { ...monitor, status: () => ({ ...monitor.status(), ...instancesMonitor.status() }) },
  });
  for (const [path, handler] of Object.entries(routes)) http.route(path, handler);

  let stopped = false;
  const heldLock = lock;
  let relayHolding: Holding | undefined;

  /** The outbox relay runs on one instance at a time: two would publish the same rows. */
  const relayRole: LeaseRole = {
    // Its rounds and its mark are fenced by the term: a paused ex-holder marks nothing (see relay.ts).
    start: (term) => relay.start(leaseFence(term)),
    async stop(reason) {
      // A graceful stop publishes what is left; after a loss another instance may publish them already.
      if (reason === 'stopping' && broker.isConnected())
        await relay.flush(common.options.relay.flushOnStopMs);
      await relay.stop();
    },
  };

  async function start() {
    try {
      httpAddress ??= await http.start();
      await instances.start();
      await connectLanes();
      relayHolding = leases.hold('relay', relayRole);
      await relayHolding.settled;
    } catch (err) {
      await stop();
      throw err;
    }
    const prefetch = {
      prefetch: common.options.consumer.prefetch,
      onDeadLetter: (queue: string) => common.metrics.deadLetter(queue),
    };
    consumers.push(broker.createConsumer(config.rmq.topup, topupHandler, prefetch));
    consumers.push(broker.createConsumer(config.rmq.withdraw, payoutHandler('withdraw'), prefetch));
    consumers.push(broker.createConsumer(config.rmq.pay, payoutHandler('pay'), prefetch));
    // Deposit addresses per business user (src/treasury/), when rmq_config.address is configured.
    const { address: addressQueue, addressResp } = config.rmq;
    if (addressQueue && addressResp) {
      const handler = createAddressHandler(common, {
        db,
        vault,
        signKey,
        responseQueue: addressResp,
        afterCommit: wakeRelay,
      });
      consumers.push(broker.createConsumer(addressQueue, handler, prefetch));
    }
    // Requests published before the queues exist would be dropped by the broker: give it a moment to
    // declare them. A broker that is down does not stop the start: deposits are recorded meanwhile.
    if (!(await broker.waitReady(common.options.broker.startWaitMs)))
      logger.warn('RabbitMQ not reachable yet; retrying in the background');
    monitor.start();
    instancesMonitor.start();
    phase = 'running';
    logger.info(
      {
        chains: lanes.map((lane) => `${lane.name} (${lane.state()})`),
        db: config.db.driver,
        instance: instances.id,
        roles: leases.held(),
        ...(heldLock ? { instanceLock: heldLock.what } : {}),
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
      ['monitor', () => Promise.all([monitor.stop(), instancesMonitor.stop()])],
      ['consumers', () => Promise.all(consumers.map((c) => c.close()))],
      ['chains', () => Promise.all(lanes.map((lane) => lane.stop()))],
      // After the chains: the relay's last flush publishes what they wrote while stopping.
      ['outbox', async () => relayHolding?.release()],
      ['leases', () => leases.stop()],
      ['broker', () => broker.close()],
      ['http', () => http.stop()],
      ['instances', () => instances.stop()],
      ['database', () => database.close()],
      // Last: a standby takes over only once this instance has finished.
      ['instance lock', async () => heldLock?.release()],
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

  /**
   * Connects every chain's lane, waiting for all of them up to `CHAIN_START_WAIT_MS`: a chain whose node
   * does not answer by then goes on connecting in the background while the others run, and /ready names
   * it. A node on another chain than the configured one fails the start; found later, it stops the service.
   */
  async function connectLanes() {
    const connecting = lanes.map((lane) => lane.connect(starting.signal));
    const all = Promise.all(connecting);
    const waited = new AbortController();
    const finished = await Promise.race([
      all.then(() => true),
      sleep(CHAIN_START_WAIT_MS, waited.signal).then(() => false),
    ]).finally(() => waited.abort());
    if (finished) return;
    const late = lanes.filter((lane) => lane.state() === 'connecting').map((lane) => lane.name);
    logger.warn(
      { chains: late },
      'the node of these chains does not answer yet: the other chains run, these start once it answers',
    );
    for (const [i, pending] of connecting.entries()) {
      pending.catch((err: unknown) => {
        if (stopped) return;
        logger.error({ err, chain: lanes[i]!.name }, 'a chain could not start: stopping the service');
        void stop().then(() => options.onFatal?.(err instanceof Error ? err : new Error(String(err))));
      });
    }
  }

  /**
   * A chain's running parts (tests, the devnet): throws while its lane is not running, or while another
   * instance holds its watcher or payout lease.
   */
  function partsOf(name: string) {
    const lane = lanes.find((l) => l.name === name);
    const parts = lane?.parts();
    if (!parts) throw new Error(`chain ${name} is not running (${lane ? lane.state() : 'not configured'})`);
    const { watcher, payouts } = parts;
    if (!watcher || !payouts) throw new Error(`chain ${name}: another instance holds its watcher or payouts`);
    return { ...parts, watcher, payouts };
  }

  return {
    db: store.db,
    /** The first chain's (ETH's) watcher and payout engine; `partsOf(name)` for another chain. */
    get watcher() {
      return partsOf(config.chain.name).watcher;
    },
    get payouts() {
      return partsOf(config.chain.name).payouts;
    },
    partsOf,
    lanes,
    /** This instance's id, and the live instances with their roles (`/status`). */
    instances,
    leases,
    vault,
    relay,
    broker,
    logger,
    metrics,
    monitor,
    instancesMonitor,
    httpAddress: () => httpAddress,
    start,
    stop,
  };
}
