import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type OpenTestDatabase, openTestDatabase } from '../../test/helpers/db.js';
import {
  amqpUrlVia,
  type BusinessClient,
  createBusinessClient,
  createTestQueues,
  type ReceivedMessage,
  type TestQueues,
} from '../../test/helpers/rabbit.js';
import { startTcpProxy, type TcpProxy } from '../../test/helpers/tcp-proxy.js';
import { type Broker, createBroker } from '../amqp/connection.js';
import { createLeases } from '../cluster/lease.js';
import { noMetricHooks } from '../context/common.js';
import { PaymentError } from '../internal/errors.js';
import { createLogger } from '../internal/logger.js';
import { resolveOptions } from '../internal/options.js';
import { acquireLease, holds } from '../store/repos/leases.js';
import { enqueueOutbox } from '../store/repos/outbox.js';
import { createOutboxRelay, leaseFence, type OutboxRelay, type RelayFence } from './relay.js';

const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });

let database: OpenTestDatabase;
let queues: TestQueues;
let proxy: TcpProxy;
let broker: Broker;
let biz: BusinessClient;
let relay: OutboxRelay;
let published: number;

beforeEach(async () => {
  database = await openTestDatabase('sqlite');
  const direct = new URL(createTestQueues().url);
  proxy = await startTcpProxy(direct.hostname, Number(direct.port || 5672));
  queues = createTestQueues({ url: amqpUrlVia(proxy.address) });
  broker = createBroker({ logger }, { rmq: queues, retryLowMs: 100, retryHighMs: 500 });
  expect(await broker.waitReady(10_000)).toBe(true);
  biz = await createBusinessClient();
  published = 0;
  relay = createOutboxRelay(
    {
      logger,
      options: resolveOptions(),
      metrics: { ...noMetricHooks, outboxPublished: (n) => (published += n) },
    },
    { db: database.handle.db, broker },
  );
});

afterEach(async () => {
  await relay.stop();
  await biz.close();
  await broker.close();
  await proxy.close();
  await queues.cleanup();
  await database.cleanup();
});

async function enqueue(from: number, count: number): Promise<void> {
  const rows = Array.from({ length: count }, (_, i) => ({
    topic: 'topup',
    exchange: queues.topupResp.exchange,
    routingKey: queues.topupResp.routing[0]!,
    body: `{"seq":${from + i}}`,
  }));
  await database.handle.db.transaction().execute((trx) => enqueueOutbox(trx, rows));
  relay.notify();
}

function seqs(messages: ReceivedMessage[]): number[] {
  return messages.map((m) => (m.json as { seq: number }).seq);
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

async function unsentRows(): Promise<number> {
  return relay.backlog();
}

describe('outbox relay', () => {
  it('publishes 1,000 rows in order, exactly once, and marks them sent', async () => {
    const received = await biz.collect(queues.topupResp);
    relay.start();
    await enqueue(0, 1000);
    await received.waitForCount(1000, 30_000);
    // Nothing more comes: no row went out twice.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(seqs(received.messages)).toEqual(range(0, 1000));
    expect(await unsentRows()).toBe(0);
    expect(published).toBe(1000);

    const first = received.messages[0]!;
    expect(first.text).toBe('{"seq":0}');
    expect(first.properties.contentType).toBe('application/json');
    expect(first.properties.deliveryMode).toBe(2);
    expect(first.properties.messageId).toMatch(/^outbox-\d+$/);
    const rows = await database.handle.db.selectFrom('outbox').select(['sent_at']).execute();
    expect(rows.every((r) => r.sent_at !== null)).toBe(true);
  });

  it('publishes within milliseconds of notify()', async () => {
    const received = await biz.collect(queues.topupResp);
    relay.start();
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await enqueue(0, 1);
    await received.waitForCount(1, 5_000);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('keeps rows while the broker is unreachable and sends them all, in order, when it is back', async () => {
    const received = await biz.collect(queues.topupResp);
    relay.start();
    await enqueue(0, 10);
    await received.waitForCount(10);
    // Delivered is not yet confirmed (persistent messages are confirmed once on disk): a cut now
    // would make these 10 go out again, which is the duplicate case the next test allows.
    while ((await unsentRows()) > 0) await new Promise((r) => setTimeout(r, 20));

    proxy.cut();
    await new Promise((r) => setTimeout(r, 200));
    await enqueue(10, 200);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(received.messages).toHaveLength(10);
    expect(await unsentRows()).toBe(200);

    proxy.restore();
    await received.waitForCount(210, 20_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(seqs(received.messages)).toEqual(range(0, 210));
    expect(await unsentRows()).toBe(0);
  });

  it('loses nothing and keeps the order when the link drops in the middle of a backlog', async () => {
    const received = await biz.collect(queues.topupResp);
    await enqueue(0, 5000);
    relay.start();
    await received.waitForCount(500, 20_000);
    proxy.cut();
    await new Promise((r) => setTimeout(r, 500));
    proxy.restore();
    const end = Date.now() + 60_000;
    while (new Set(seqs(received.messages)).size < 5000 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await unsentRows()).toBe(0);

    // Every row arrived; the first copies are in order; a second copy can only be one of the
    // publishes that were awaiting their confirm when the link dropped.
    const all = seqs(received.messages);
    const firsts: number[] = [];
    const seen = new Set<number>();
    for (const s of all) if (!seen.has(s) && seen.add(s)) firsts.push(s);
    expect(firsts).toEqual(range(0, 5000));
    expect(all.length - 5000).toBeLessThanOrEqual(100);
  });

  it('does not drop rows whose queue vanished: they wait for the topology to be declared again', async () => {
    relay.start();
    await biz.deleteQueue(queues.topupResp.queue);
    await enqueue(0, 5);
    // Returned unroutable, kept in the outbox; the broker declares the queue again and they go out.
    // (Not collected before: the collector would declare the queue itself.)
    const end = Date.now() + 10_000;
    while ((await biz.queueMessageCount(queues.topupResp.queue)) !== 5 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const received = await biz.collect(queues.topupResp);
    await received.waitForCount(5, 10_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(seqs(received.messages)).toEqual(range(0, 5));
    expect(await unsentRows()).toBe(0);
  });

  it('flush() sends everything pending, or reports that it could not', async () => {
    const received = await biz.collect(queues.topupResp);
    await enqueue(0, 700);
    expect(await relay.flush(10_000)).toBe(true);
    expect(seqs(await received.waitForCount(700))).toEqual(range(0, 700));

    proxy.cut();
    await new Promise((r) => setTimeout(r, 200));
    await enqueue(700, 3);
    expect(await relay.flush(500)).toBe(false);
    expect(await unsentRows()).toBe(3);
  });
});

describe('outbox relay: one subject in order after a nack', () => {
  /**
   * A broker whose publish of the chosen bodies is refused once (a nack, or an unroutable return): every
   * publish settles a few milliseconds later, so several are in flight together as on a real channel.
   * `accepted` is what reached the queue, in channel order.
   */
  function nackingBroker(refuseOnce: Set<string>) {
    const accepted: string[] = [];
    const broker = {
      isConnected: () => true,
      onConnected: () => () => {},
      publish(_exchange: string, _routingKey: string, body: string) {
        const refuse = refuseOnce.delete(body);
        if (!refuse) accepted.push(body);
        return new Promise<void>((resolve, reject) =>
          setTimeout(() => (refuse ? reject(new Error('nack')) : resolve()), 5),
        );
      },
    };
    return { broker, accepted };
  }

  it('never lets a later row of a subject reach the queue before an earlier one that was nacked', async () => {
    const rows = [
      { subject: 'deposit:0xaa:0', body: '{"deposit":"a","status":2}' },
      { subject: 'deposit:0xbb:0', body: '{"deposit":"b","status":2}' },
      { subject: 'deposit:0xaa:0', body: '{"deposit":"a","status":1}' },
      { subject: 'withdraw:w1', body: '{"queue_id":"w1","status":1}' },
      { subject: undefined, body: '{"refused":"c"}' },
      { subject: 'deposit:0xbb:0', body: '{"deposit":"b","status":1}' },
    ];
    const { broker: fake, accepted } = nackingBroker(new Set([rows[0]!.body]));
    const fakeRelay = createOutboxRelay(
      { logger, options: resolveOptions({ relay: { pollMs: 50 } }), metrics: noMetricHooks },
      { db: database.handle.db, broker: fake },
    );
    await database.handle.db.transaction().execute((trx) =>
      enqueueOutbox(
        trx,
        rows.map((r) => ({ ...r, topic: 'topup', exchange: 'x', routingKey: 'k' })),
      ),
    );
    fakeRelay.start();
    try {
      const end = Date.now() + 10_000;
      while ((await fakeRelay.backlog()) > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await fakeRelay.stop();
    }
    expect(await fakeRelay.backlog()).toBe(0);
    // Every row reached the queue; within a subject the first copies are in row order.
    for (const r of rows) expect(accepted, r.body).toContain(r.body);
    const firstAt = (body: string) => accepted.indexOf(body);
    expect(firstAt(rows[0]!.body)).toBeLessThan(firstAt(rows[2]!.body));
    expect(firstAt(rows[1]!.body)).toBeLessThan(firstAt(rows[5]!.body));
    // A row of another subject confirmed meanwhile is not sent again.
    expect(accepted.filter((b) => b === rows[3]!.body)).toHaveLength(1);
  });
});

describe('outbox relay: fenced by the relay lease', () => {
  /**
   * A broker that takes every publish at once and confirms it only when `confirm()` is called: a round
   * stays between its publishes and its mark, as in a holder paused there. `taken` is what it took.
   */
  function heldConfirmsBroker() {
    const taken: string[] = [];
    let waiting: (() => void)[] = [];
    const broker = {
      isConnected: () => true,
      onConnected: () => () => {},
      publish(_exchange: string, _routingKey: string, body: string) {
        taken.push(body);
        return new Promise<void>((resolve) => waiting.push(resolve));
      },
    };
    const confirm = () => {
      for (const resolve of waiting) resolve();
      waiting = [];
    };
    return { broker, taken, confirm };
  }

  const db = () => database.handle.db;

  /** Holder A's term of `relay`: its fence, as `LeaseTerm.fence` checks it. */
  async function termOfA(): Promise<RelayFence> {
    const token = await acquireLease(db(), 'relay', 'A', 60_000);
    expect(token).toBeDefined();
    return async (trx) => {
      if (!(await holds(trx, 'relay', token!))) throw new PaymentError('lease_lost', 'A lost relay');
    };
  }

  /** B takes the lease over from A, as after A was paused past its TTL. */
  async function takeOverByB(): Promise<void> {
    await db().updateTable('leases').set({ expires_at: 0 }).where('name', '=', 'relay').execute();
    expect(await acquireLease(db(), 'relay', 'B', 60_000)).toBeDefined();
  }

  async function enqueueRows(bodies: string[]): Promise<void> {
    const rows = bodies.map((body) => ({ topic: 'topup', exchange: 'x', routingKey: 'k', body }));
    await db()
      .transaction()
      .execute((trx) => enqueueOutbox(trx, rows));
  }

  function relayOn(
    broker: Parameters<typeof createOutboxRelay>[1]['broker'],
    options = resolveOptions({ relay: { pollMs: 20 } }),
  ) {
    return createOutboxRelay({ logger, options, metrics: noMetricHooks }, { db: db(), broker });
  }

  async function until(what: () => Promise<boolean> | boolean): Promise<void> {
    const end = Date.now() + 10_000;
    while (!(await what()) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(await what()).toBe(true);
  }

  it('marks nothing once the lease was taken over mid-round, and publishes no further round', async () => {
    const { broker: fake, taken, confirm } = heldConfirmsBroker();
    const fenced = relayOn(fake);
    const fence = await termOfA();
    try {
      await enqueueRows(['{"n":1}', '{"n":2}']);
      fenced.start(fence);
      // Published, awaiting their confirms: then B takes the lease over.
      await until(() => taken.length === 2);
      await takeOverByB();
      confirm();
      await enqueueRows(['{"n":3}']);
      fenced.notify();
      // Several poll intervals for rounds that must not come.
      await new Promise((r) => setTimeout(r, 500));
      confirm();
      expect(taken).toEqual(['{"n":1}', '{"n":2}']);
      expect(await fenced.backlog()).toBe(3);
    } finally {
      await fenced.stop();
    }
  });

  it('publishes no round once the lease was taken over while it was idle', async () => {
    const { broker: fake, taken, confirm } = heldConfirmsBroker();
    const fenced = relayOn(fake);
    const fence = await termOfA();
    try {
      fenced.start(fence);
      await enqueueRows(['{"n":1}']);
      fenced.notify();
      await until(() => taken.length === 1);
      confirm();
      await until(async () => (await fenced.backlog()) === 0);

      await takeOverByB();
      await enqueueRows(['{"n":2}', '{"n":3}']);
      fenced.notify();
      await new Promise((r) => setTimeout(r, 500));
      confirm();
      expect(taken).toEqual(['{"n":1}']);
      expect(await fenced.backlog()).toBe(2);
      // And a flush under the lost lease gives up at once instead of publishing.
      expect(await fenced.flush(5_000)).toBe(false);
      expect(taken).toEqual(['{"n":1}']);
    } finally {
      await fenced.stop();
    }
  });

  it("a graceful release's last flush still publishes under leaseFence (the term has ended by then)", async () => {
    let up = false;
    const taken: string[] = [];
    const flaky = {
      isConnected: () => true,
      onConnected: () => () => {},
      async publish(_exchange: string, _routingKey: string, body: string) {
        if (!up) throw new Error('nack');
        taken.push(body);
      },
    };
    const options = resolveOptions();
    const fenced = relayOn(flaky, options);
    const leases = createLeases({ logger, options }, { db: db(), holder: 'A' });
    let flushed: boolean | undefined;
    // As the service's relayRole does.
    const holding = leases.hold('relay', {
      start: (term) => fenced.start(leaseFence(term)),
      async stop(reason) {
        up = true;
        if (reason === 'stopping') flushed = await fenced.flush(5_000);
        await fenced.stop();
      },
    });
    try {
      await holding.settled;
      expect(holding.held()).toBe(true);
      await enqueueRows(['{"n":1}']);
      fenced.notify();
    } finally {
      await leases.stop();
    }
    expect(flushed).toBe(true);
    expect(taken).toEqual(['{"n":1}']);
    expect(await fenced.backlog()).toBe(0);
  });
});
