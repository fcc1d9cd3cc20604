import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Common } from '../context/common.js';
import { sleep } from '../internal/errors.js';
import {
  beatInstance,
  type InstanceInfo,
  listLiveInstances,
  removeDeadInstances,
  removeInstance,
  upsertInstance,
} from '../store/repos/instances.js';
import { listHeldLeases } from '../store/repos/leases.js';
import type { Db } from '../store/schema.js';

export interface InstanceRegistryDeps {
  db: Db;
  /** `host:port` of this instance's HTTP server, once it listens. */
  httpAddr: () => string | undefined;
}

/** A live instance and the leases it holds (its roles: `watcher:ETH`, `relay`, …). */
export interface LiveInstance extends InstanceInfo {
  roles: string[];
}

export type InstanceRegistry = ReturnType<typeof createInstanceRegistry>;

/** A new instance id: random, so a restarted process is a new instance and never inherits a lease. */
export function newInstanceId(): string {
  return randomBytes(8).toString('hex');
}

/**
 * This instance's row in `instances`: written at start, its heartbeat every `heartbeatMs`, removed at a
 * clean stop. A process that dies leaves its row; it drops out of `list()` once its heartbeat is older
 * than `instanceStaleMs`, and is deleted after `instanceForgetMs`. The heartbeat only shows who runs;
 * who does what is decided by the leases alone.
 */
export function createInstanceRegistry(
  common: Pick<Common, 'logger' | 'options'>,
  deps: InstanceRegistryDeps,
) {
  const { db } = deps;
  const { heartbeatMs, instanceStaleMs, instanceForgetMs } = common.options.cluster;
  const logger = common.logger.child({ component: 'instances' });
  const id = newInstanceId();
  const host = hostname();
  const stopping = new AbortController();
  let loop: Promise<void> | undefined;

  const row = () => ({ id, host, pid: process.pid, http_addr: deps.httpAddr() ?? null });

  async function beat() {
    if (!(await beatInstance(db, id))) await upsertInstance(db, row());
  }

  async function run() {
    let failing = false;
    let beats = 0;
    while (!stopping.signal.aborted) {
      await sleep(heartbeatMs, stopping.signal);
      if (stopping.signal.aborted) break;
      try {
        await beat();
        // Once in a while, the rows of instances long dead.
        if (++beats % 600 === 1) await removeDeadInstances(db, instanceForgetMs);
        if (failing) logger.info('heartbeat written again');
        failing = false;
      } catch (err) {
        if (!failing) logger.warn({ err }, 'could not write the heartbeat; trying again');
        failing = true;
      }
    }
  }

  return {
    id,
    /** Writes this instance's row and starts the heartbeat. */
    async start(): Promise<void> {
      await upsertInstance(db, row());
      logger.info({ instance: id, host, pid: process.pid }, 'instance registered');
      loop ??= run();
    },
    /** Writes the row again now (e.g. the HTTP address became known). */
    async refresh(): Promise<void> {
      await upsertInstance(db, row());
    },
    /** The live instances, each with the leases it holds. */
    async list(): Promise<LiveInstance[]> {
      const [instances, leases] = await Promise.all([
        listLiveInstances(db, instanceStaleMs),
        listHeldLeases(db),
      ]);
      return instances.map((i) => ({
        ...i,
        roles: leases.filter((l) => l.holder === i.id).map((l) => l.name),
      }));
    },
    /** Stops the heartbeat and removes the row (a clean stop). */
    async stop(): Promise<void> {
      stopping.abort();
      await loop;
      await removeInstance(db, id).catch((err: unknown) => {
        logger.warn({ err }, 'could not remove this instance from the instances table');
      });
    },
  };
}
