import { Gauge, type Registry } from 'prom-client';
import type { LiveInstance } from '../cluster/instances.js';
import type { Common } from '../context/common.js';
import { sleep } from '../internal/errors.js';

export interface InstancesMonitorDeps {
  /** This instance's registry (src/cluster/instances.ts). */
  instances: { id: string; list(): Promise<LiveInstance[]> };
  /** The service's prom-client registry. */
  registry: Registry;
}

/** One instance as `/status` shows it. */
export interface InstanceView {
  id: string;
  host: string;
  pid: number;
  http_addr: string | null;
  started_at: number;
  heartbeat_at: number;
  /** Seconds since its last heartbeat, by the database's clock. */
  heartbeat_age_s: number;
  /** The leases it holds: `watcher:ETH`, `relay`, `sender:ETH:0x…`, … */
  roles: string[];
}

export interface InstancesStatus {
  /** The instance that answered. */
  instance: { id: string };
  /** Every live instance on the database, oldest first; null until the first read. */
  instances: InstanceView[] | null;
}

/**
 * The instances on this database and what each one does, read every `heartbeatMs` from the `instances`
 * and `leases` tables (two small tables, so cheap): `/status`'s `instance` and `instances`, the status
 * page's table, and the gauges `m2pool_instances` and `m2pool_instance_role`. Every instance shows all
 * of them, whichever one a load balancer sends the request to.
 */
export function createInstancesMonitor(
  common: Pick<Common, 'logger' | 'options'>,
  deps: InstancesMonitorDeps,
) {
  const logger = common.logger.child({ component: 'instances-monitor' });
  const { heartbeatMs } = common.options.cluster;
  const registers = [deps.registry];
  const live = new Gauge({
    name: 'm2pool_instances',
    help: 'Service instances on this database whose heartbeat is recent',
    registers,
  });
  const roles = new Gauge({
    name: 'm2pool_instance_role',
    help: 'Leases held, by instance id and role (watcher:ETH, relay, …: 1 each; sender:ETH: the wallets it sends for)',
    labelNames: ['instance', 'role'] as const,
    registers,
  });
  const heartbeatAge = new Gauge({
    name: 'm2pool_instance_heartbeat_age_seconds',
    help: 'Seconds between the newest heartbeat on the database and this instance’s last one',
    labelNames: ['instance'] as const,
    registers,
  });
  const stopping = new AbortController();
  let loop: Promise<void> | undefined;
  let views: InstanceView[] | null = null;
  let failing = false;

  async function sample() {
    const list = await deps.instances.list();
    const newest = Math.max(0, ...list.map((i) => i.heartbeat_at));
    views = list.map((i) => ({
      id: i.id,
      host: i.host,
      pid: i.pid,
      http_addr: i.http_addr,
      started_at: i.started_at,
      heartbeat_at: i.heartbeat_at,
      // Against the newest heartbeat: the database's clock, not this process's.
      heartbeat_age_s: Math.max(0, Math.round((newest - i.heartbeat_at) / 1000)),
      roles: i.roles,
    }));
    live.set(list.length);
    roles.reset();
    heartbeatAge.reset();
    for (const view of views) {
      heartbeatAge.set({ instance: view.id }, view.heartbeat_age_s);
      // A sender lease per wallet would be a series per wallet: counted per chain instead.
      const counts = new Map<string, number>();
      for (const role of view.roles) {
        const name = /^sender:[^:]+:/.test(role) ? role.slice(0, role.lastIndexOf(':')) : role;
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
      for (const [role, n] of counts) roles.set({ instance: view.id, role }, n);
    }
  }

  async function run() {
    while (!stopping.signal.aborted) {
      try {
        await sample();
        failing = false;
      } catch (err) {
        if (!failing) logger.warn({ err }, 'could not read the instances');
        failing = true;
      }
      await sleep(heartbeatMs, stopping.signal);
    }
  }

  return {
    start() {
      loop ??= run();
    },
    async stop() {
      stopping.abort();
      await loop;
    },
    /** Reads the tables now (tests; the loop does it every `heartbeatMs`). */
    refresh: sample,
    status(): InstancesStatus {
      return { instance: { id: deps.instances.id }, instances: views };
    },
  };
}
