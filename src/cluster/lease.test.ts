import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dbKinds, type OpenTestDatabase, openTestDatabase } from '../../test/helpers/db.js';
import { until } from '../../test/helpers/service.js';
import { startTcpProxy } from '../../test/helpers/tcp-proxy.js';
import type { MysqlDbConfig } from '../config/types.js';
import { createLogger } from '../internal/logger.js';
import { resolveOptions } from '../internal/options.js';
import { createDatabase, type DatabaseHandle } from '../store/db.js';
import { insertBlock } from '../store/repos/chain-blocks.js';
import { acquireLease, holds, renewLease } from '../store/repos/leases.js';
import { createInstanceRegistry } from './instances.js';
import { createLeases, type LeaseRole, type LeaseTerm } from './lease.js';

const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
const TTL = 800;
const common = {
  logger,
  options: resolveOptions({
    cluster: {
      leaseTtlMs: TTL,
      leaseRenewMs: 200,
      leaseAcquireMs: 100,
      heartbeatMs: 100,
      instanceStaleMs: 500,
    },
  }),
};

/** A role that records its terms, as a test's stand-in for a watcher. */
function recordingRole() {
  const terms: LeaseTerm[] = [];
  const stops: string[] = [];
  const role: LeaseRole = {
    start: (term) => {
      terms.push(term);
    },
    stop: (reason) => {
      stops.push(reason);
    },
  };
  return { role, terms, stops };
}

describe.each(dbKinds)('leases on %s', (kind) => {
  let database: OpenTestDatabase;
  // A second connection pool on the same database: the other instance.
  let other: DatabaseHandle;
  beforeEach(async () => {
    database = await openTestDatabase(kind);
    other = await createDatabase(database.config);
  });
  afterEach(async () => {
    await other.close();
    await database.cleanup();
  });

  it('two holders contend: one wins, the other stands by and takes over once the first releases it', async () => {
    const a = createLeases(common, { db: database.handle.db, holder: 'instance-a' });
    const b = createLeases(common, { db: other.db, holder: 'instance-b' });
    const roleA = recordingRole();
    const roleB = recordingRole();
    try {
      const holdA = a.hold('watcher:ETH', roleA.role);
      await holdA.settled;
      const holdB = b.hold('watcher:ETH', roleB.role);
      await holdB.settled;
      expect(holdA.held()).toBe(true);
      expect(holdB.held()).toBe(false);
      expect(a.held()).toEqual(['watcher:ETH']);
      expect(roleB.terms).toHaveLength(0);
      // Renewals keep it with A well past its TTL.
      await new Promise((r) => setTimeout(r, TTL * 2));
      expect(roleB.terms).toHaveLength(0);

      await holdA.release();
      expect(roleA.stops).toEqual(['stopping']);
      await until(() => holdB.held(), 5_000, 'B to take the released lease');
      expect(roleB.terms[0]!.token).toBeGreaterThan(roleA.terms[0]!.token);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('a holder that stops renewing loses the lease after its TTL; the standby takes it with a higher token', async () => {
    // A took it and then went silent (paused, cut off): nothing renews it.
    const tokenA = await acquireLease(database.handle.db, 'watcher:ETH', 'instance-a', TTL);
    expect(tokenA).toBeDefined();
    const b = createLeases(common, { db: other.db, holder: 'instance-b' });
    const roleB = recordingRole();
    try {
      const holdB = b.hold('watcher:ETH', roleB.role);
      await holdB.settled;
      expect(holdB.held()).toBe(false);
      await until(() => holdB.held(), 5_000, 'B to take the lapsed lease');
      const tokenB = roleB.terms[0]!.token;
      expect(tokenB).toBeGreaterThan(tokenA!);
      // A comes back: its renewal and its fenced writes are refused.
      expect(await renewLease(database.handle.db, 'watcher:ETH', 'instance-a', tokenA!, TTL)).toBe(false);
      expect(
        await database.handle.db.transaction().execute((trx) => holds(trx, 'watcher:ETH', tokenA!)),
      ).toBe(false);
      expect(await other.db.transaction().execute((trx) => holds(trx, 'watcher:ETH', tokenB))).toBe(true);
    } finally {
      await b.stop();
    }
  });

  it('a holder whose lease was taken is told so: its work stops and its fence refuses the write', async () => {
    const a = createLeases(common, { db: database.handle.db, holder: 'instance-a' });
    const roleA = recordingRole();
    try {
      const holdA = a.hold('relay', roleA.role);
      await holdA.settled;
      const term = roleA.terms[0]!;
      // The row lapses behind A's back (as if its renewals had not reached the database), and B takes it.
      await other.db.updateTable('leases').set({ expires_at: 0 }).where('name', '=', 'relay').execute();
      const tokenB = await acquireLease(other.db, 'relay', 'instance-b', 60_000);
      expect(tokenB).toBe(term.token + 1);

      const write = database.handle.db.transaction().execute(async (trx) => {
        await term.fence(trx);
        await insertBlock(trx, 'ETH', { number: 1, hash: '0x01', parentHash: '0x00' });
      });
      await expect(write).rejects.toThrow(/no longer holds the lease relay/);
      expect(await database.handle.db.selectFrom('chain_blocks').selectAll().execute()).toHaveLength(0);
      await until(() => roleA.stops.length > 0, 5_000, "A's work stopped");
      expect(roleA.stops).toEqual(['lost']);
      expect(term.signal.aborted).toBe(true);
      expect(holdA.held()).toBe(false);
    } finally {
      await a.stop();
    }
  });

  it('tokens only grow, across holders and releases', async () => {
    const db = database.handle.db;
    const tokens: number[] = [];
    for (const holder of ['a', 'b', 'a', 'c']) {
      const token = await acquireLease(db, 'sweeper:ETH', holder, TTL);
      expect(token).toBeDefined();
      tokens.push(token!);
      // Taken while held: refused.
      expect(await acquireLease(db, 'sweeper:ETH', 'intruder', TTL)).toBeUndefined();
      await db.updateTable('leases').set({ holder: null }).where('name', '=', 'sweeper:ETH').execute();
    }
    expect(tokens).toEqual([1, 2, 3, 4]);
    // A holder taking its own lease again starts a new term: its earlier term's token is fenced out.
    const again = await acquireLease(db, 'sweeper:ETH', 'd', TTL);
    expect(await acquireLease(db, 'sweeper:ETH', 'd', TTL)).toBe(again! + 1);
    expect(await db.transaction().execute((trx) => holds(trx, 'sweeper:ETH', again!))).toBe(false);
  });

  it('lists live instances with the leases they hold, and forgets one at its clean stop', async () => {
    const registry = createInstanceRegistry(common, {
      db: database.handle.db,
      httpAddr: () => '127.0.0.1:1',
    });
    const leases = createLeases(common, { db: database.handle.db, holder: registry.id });
    try {
      await registry.start();
      await leases.hold('watcher:ETH', recordingRole().role).settled;
      await leases.hold('relay', recordingRole().role).settled;
      const [me, ...others] = await registry.list();
      expect(others).toHaveLength(0);
      expect(me).toMatchObject({ id: registry.id, pid: process.pid, http_addr: '127.0.0.1:1' });
      expect(me!.roles.sort()).toEqual(['relay', 'watcher:ETH']);
      const first = me!.heartbeat_at;
      await until(async () => (await registry.list())[0]!.heartbeat_at > first, 5_000, 'a heartbeat');
      await leases.stop();
      expect((await registry.list())[0]!.roles).toEqual([]);
    } finally {
      await leases.stop();
      await registry.stop();
    }
    expect(await registry.list()).toEqual([]);
  });
});

describe('a lease holder cut off from MySQL', () => {
  it('stops its work once it could not renew for a TTL, and the other instance takes the lease over', async () => {
    const database = await openTestDatabase('mysql');
    const config = database.config as MysqlDbConfig;
    // Instance A reaches the database through a proxy the test can cut; B directly.
    const proxy = await startTcpProxy(config.host, config.port);
    const viaProxy = await createDatabase({ ...config, host: proxy.host, port: proxy.port });
    const a = createLeases(common, { db: viaProxy.db, holder: 'instance-a' });
    const b = createLeases(common, { db: database.handle.db, holder: 'instance-b' });
    const roleA = recordingRole();
    const roleB = recordingRole();
    try {
      const holdA = a.hold('watcher:ETH', roleA.role);
      await holdA.settled;
      const holdB = b.hold('watcher:ETH', roleB.role);
      await holdB.settled;
      expect([holdA.held(), holdB.held()]).toEqual([true, false]);

      // A silent partition: A's renewals hang, they neither succeed nor fail.
      proxy.cut('blackhole');
      await until(() => roleA.stops.length > 0, 10_000, "A's work stopped");
      expect(roleA.stops).toEqual(['lost']);
      expect(roleA.terms[0]!.signal.aborted).toBe(true);
      await until(() => holdB.held(), 10_000, 'B to take the lease over');
      const tokenA = roleA.terms[0]!.token;
      expect(roleB.terms[0]!.token).toBeGreaterThan(tokenA);
      expect(await database.handle.db.transaction().execute((trx) => holds(trx, 'watcher:ETH', tokenA))).toBe(
        false,
      );
    } finally {
      proxy.restore();
      await b.stop();
      await a.stop();
      await viaProxy.close();
      await proxy.close();
      await database.cleanup();
    }
  });
});

describe('fencing on MySQL', () => {
  it('a takeover waits for a write that passed the fence to commit; after it, the old token writes nothing', async () => {
    const database = await openTestDatabase('mysql');
    const other = await createDatabase(database.config);
    try {
      const db = database.handle.db;
      const tokenA = (await acquireLease(db, 'watcher:ETH', 'instance-a', TTL))!;
      // A's lease lapses while A, paused, is inside a fenced write.
      await db.updateTable('leases').set({ expires_at: 0 }).where('name', '=', 'watcher:ETH').execute();
      let takeover: Promise<number | undefined> | undefined;
      let tookOver = false;
      await db.transaction().execute(async (trx) => {
        expect(await holds(trx, 'watcher:ETH', tokenA)).toBe(true);
        takeover = acquireLease(other.db, 'watcher:ETH', 'instance-b', 60_000).then((t) => {
          tookOver = true;
          return t;
        });
        await new Promise((r) => setTimeout(r, 500));
        // B's acquire is held back by the row A's check locked.
        expect(tookOver).toBe(false);
        await insertBlock(trx, 'ETH', { number: 1, hash: '0x01', parentHash: '0x00' });
      });
      expect(await takeover).toBe(tokenA + 1);
      // A's next write is refused by the fence.
      const stale = await db.transaction().execute((trx) => holds(trx, 'watcher:ETH', tokenA));
      expect(stale).toBe(false);
      expect(await db.selectFrom('chain_blocks').select('number').execute()).toHaveLength(1);
    } finally {
      await other.close();
      await database.cleanup();
    }
  });
});
