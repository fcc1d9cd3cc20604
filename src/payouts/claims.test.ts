import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type OpenTestDatabase, openTestDatabase } from '../../test/helpers/db.js';
import { payoutRow } from '../../test/helpers/payouts.js';
import { until } from '../../test/helpers/service.js';
import { createInstanceRegistry } from '../cluster/instances.js';
import { createLeases } from '../cluster/lease.js';
import { createLogger } from '../internal/logger.js';
import { resolveOptions } from '../internal/options.js';
import { createDatabase, type DatabaseHandle } from '../store/db.js';
import { insertPayoutIfNew, payoutByQueueId } from '../store/repos/payouts.js';
import { createSenderClaims, type SenderClaims } from './claims.js';

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
const COLLECTION = `0x${'c'.repeat(40)}`;
const WALLETS = Array.from({ length: 10 }, (_, i) => `0x${(i + 1).toString(16).padStart(40, '0')}`);
/** The vault holds every wallet of the test (which key it holds is all the claims ask of it). */
const vault = { has: async (address: string) => address === COLLECTION || WALLETS.includes(address) };

interface TestInstance {
  name: string;
  handle: DatabaseHandle;
  claims: SenderClaims;
  stop(): Promise<void>;
}

/**
 * Sender claims on one MariaDB database, as three instances of the service run them: each with its own
 * connection pool, instance row (the live count behind the share) and leases.
 */
describe('sender claims of three instances on mysql', () => {
  let database: OpenTestDatabase;
  const instances: TestInstance[] = [];

  async function startInstance(name: string): Promise<TestInstance> {
    const handle = await createDatabase(database.config);
    const registry = createInstanceRegistry(common, { db: handle.db, httpAddr: () => undefined });
    await registry.start();
    const leases = createLeases(common, { db: handle.db, holder: registry.id });
    const claims = createSenderClaims(common, {
      db: handle.db,
      chain: { name: 'ETH', collectionAddressLc: COLLECTION },
      vault,
      leases,
    });
    const instance: TestInstance = {
      name,
      handle,
      claims,
      async stop() {
        await claims.stop();
        await leases.stop();
        await registry.stop();
        await handle.close();
      },
    };
    instances.push(instance);
    return instance;
  }

  beforeEach(async () => {
    database = await openTestDatabase('mysql');
  });
  afterEach(async () => {
    for (const i of instances.splice(0)) await i.stop().catch(() => {});
    await database.cleanup();
  });

  /** Rounds on every instance until `done` holds (a round is what an engine runs between passes). */
  async function roundsUntil(of: TestInstance[], done: () => boolean, what: string) {
    await until(
      async () => {
        for (const i of of) {
          await i.claims.route();
          await i.claims.round();
        }
        return done();
      },
      20_000,
      what,
    );
  }

  it('spread the wallets with payouts, one holder each; a dead instance’s wallets are taken over and its writes fenced out', async () => {
    const db = database.handle.db;
    for (const [i, wallet] of WALLETS.entries()) {
      await insertPayoutIfNew(db, payoutRow(`w-${i}`, { from_address: wallet }));
    }
    // A request from a wallet the vault does not hold is routed to the collection wallet.
    await insertPayoutIfNew(db, payoutRow('w-keyless', { from_address: `0x${'e'.repeat(40)}` }));
    const [a, b, c] = [await startInstance('a'), await startInstance('b'), await startInstance('c')];
    const all = [a!, b!, c!];
    const routes = [...WALLETS, COLLECTION];
    const held = () => all.map((i) => i.claims.wallets());
    await roundsUntil(all, () => held().flat().length === routes.length, 'every wallet held');

    expect((await payoutByQueueId(db, 'w-keyless'))?.route).toBe(COLLECTION);
    expect((await payoutByQueueId(db, 'w-3'))?.route).toBe(WALLETS[3]);
    // Each wallet by exactly one instance, none above its share (11 wallets over 3: 4), two at least busy.
    expect(held().flat().sort()).toEqual([...routes].sort());
    for (const wallets of held()) expect(wallets.length).toBeLessThanOrEqual(4);
    expect(held().filter((w) => w.length > 0).length).toBeGreaterThanOrEqual(2);

    // The instance with the most wallets dies: its pool is closed, so it renews nothing and writes nothing.
    const dead = all.reduce((x, y) => (x.claims.wallets().length >= y.claims.wallets().length ? x : y));
    const lost = dead.claims.wallets();
    expect(lost.length).toBeGreaterThan(0);
    const survivors = all.filter((i) => i !== dead);
    await dead.handle.close();
    const diedAt = performance.now();
    await roundsUntil(
      survivors,
      () => survivors.flatMap((i) => i.claims.wallets()).length === routes.length,
      'the dead instance’s wallets taken over',
    );
    const takeoverMs = performance.now() - diedAt;
    console.log(
      `${lost.length} sender leases taken over ${Math.round(takeoverMs)} ms after their holder died`,
    );
    expect(survivors.flatMap((i) => i.claims.wallets()).sort()).toEqual([...routes].sort());

    // The dead one's terms ended on its own clock (no renewal for a TTL): a write it would still try about
    // a wallet it lost is refused before it writes anything.
    await until(async () => dead.claims.wallets().length === 0, 10_000, 'the dead instance stopped its work');
    await expect(
      database.handle.db.transaction().execute((trx) => dead.claims.fence(trx, [lost[0]!])),
    ).rejects.toThrow(/does not send for/);
    // A survivor's fence passes for the wallets it holds now, one or many at once.
    const owner = survivors.find((i) => i.claims.wallets().includes(lost[0]!))!;
    await database.handle.db.transaction().execute((trx) => owner.claims.fence(trx, owner.claims.wallets()));
  });

  it('evens out: an instance that started later gets wallets handed over until both hold their share', async () => {
    const db = database.handle.db;
    for (const [i, wallet] of WALLETS.entries()) {
      await insertPayoutIfNew(db, payoutRow(`e-${i}`, { from_address: wallet }));
    }
    const first = await startInstance('first');
    await roundsUntil(
      [first],
      () => first.claims.wallets().length === WALLETS.length,
      'all held by the first',
    );
    const later = await startInstance('later');
    await roundsUntil(
      [first, later],
      () => first.claims.wallets().length === 5 && later.claims.wallets().length === 5,
      'five each',
    );
    expect([...first.claims.wallets(), ...later.claims.wallets()].sort()).toEqual([...WALLETS].sort());
  });

  it('gives a wallet without work up, and a new payout of it is claimed again', async () => {
    const db = database.handle.db;
    await insertPayoutIfNew(db, payoutRow('only', { from_address: WALLETS[0]! }));
    const one = await startInstance('one');
    await roundsUntil([one], () => one.claims.wallets().length === 1, 'the wallet claimed');
    await db.updateTable('payouts').set({ state: 'confirmed' }).where('queue_id', '=', 'only').execute();
    await roundsUntil([one], () => one.claims.wallets().length === 0, 'the idle wallet given up');
    await insertPayoutIfNew(db, payoutRow('again', { from_address: WALLETS[0]! }));
    await roundsUntil([one], () => one.claims.wallets().length === 1, 'claimed again');
  });
});
