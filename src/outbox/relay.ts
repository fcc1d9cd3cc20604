import type { Broker } from '../amqp/connection.js';
import type { Common } from '../context/common.js';
import { backoffMs } from '../internal/backoff.js';
import { sleep } from '../internal/errors.js';
import { countUnsentOutbox, markOutboxSent, unsentOutbox } from '../store/repos/outbox.js';
import type { Db, OutboxRow } from '../store/schema.js';

export interface OutboxRelayDeps {
  db: Db;
  broker: Pick<Broker, 'publish' | 'isConnected' | 'onConnected'>;
}

export interface OutboxRelay {
  start(): void;
  /** Finishes the round in progress, then stops. */
  stop(): Promise<void>;
  /** Wake up now: rows were just committed. */
  notify(): void;
  /** Publishes until nothing is pending (true) or `timeoutMs` passed (false). For shutdown. */
  flush(timeoutMs: number): Promise<boolean>;
  /** Rows not yet sent. */
  backlog(): Promise<number>;
}

interface RoundResult {
  /** Rows confirmed and marked sent. */
  sent: number;
  /** A full batch was read: there may be more right away. */
  more: boolean;
  /** The round stopped early (broker down, a publish failed). */
  failed: boolean;
}

/**
 * Publishes outbox rows in id order with publisher confirms and marks them sent.
 *
 * Ordering: rows are published on one confirm channel, up to `maxInFlight` at a time; RabbitMQ keeps
 * the order of one channel, so the queues receive them in id order. At the first failure no further
 * row of the round is published, and the next round starts again from the lowest unsent row, so a
 * row never goes out before an earlier row that has not been tried yet.
 *
 * One subject's rows in order, even after a single nack or an unroutable return (which fail one publish
 * while the ones after it are taken): a row is published only once every earlier row of its subject
 * (`outbox.subject`: a deposit, a payout) in the round is confirmed. So when a row fails, no later row
 * of its subject is in flight: it stops there, and the next round publishes them in order. Rows of
 * other subjects confirmed after the failed one are marked sent (their order against it does not
 * matter); rows without a subject confirmed after it are not, and go out again in the next round, in
 * order after it (an identical copy, the duplicate window below).
 *
 * Exactly once, except: a crash between confirm and mark, or a connection lost after the broker took
 * a message but before its confirm arrived, publishes that row again on the next round. The copy is
 * identical, including its AMQP message-id (`outbox-<id>`).
 *
 * Rows are selected by `sent_at IS NULL`, never by an id cursor, so a row of a transaction that
 * committed after a later id was sent is still found; a batch is always the lowest unsent rows, so an
 * unsent earlier row of a subject is always in the same round. One relay per database (it takes no row
 * locks; the service runs it only while it holds the `relay` lease, src/cluster/lease.ts).
 */
export function createOutboxRelay(
  common: Pick<Common, 'logger' | 'metrics' | 'options'>,
  deps: OutboxRelayDeps,
): OutboxRelay {
  const logger = common.logger.child({ component: 'outbox' });
  const { db, broker } = deps;
  const { batchSize, maxInFlight, pollMs } = common.options.relay;

  let running = false;
  let loop: Promise<void> | undefined;
  let wakeRequested = false;
  let wake: (() => void) | undefined;
  // After a failure only a reconnect (or stop) cuts the wait short, not every new commit.
  let backingOff = false;
  let unsubscribe: (() => void) | undefined;
  // Rounds never overlap (the loop and flush() share this), or a row could be published twice.
  let roundLock: Promise<unknown> = Promise.resolve();

  function runRound(): Promise<RoundResult> {
    const next = roundLock.then(publishRound);
    roundLock = next.catch(() => {});
    return next;
  }

  async function publishRound(): Promise<RoundResult> {
    // Rows wait in the database while the broker is away; onConnected wakes us when it is back.
    if (!broker.isConnected()) return { sent: 0, more: false, failed: true };
    const rows = await unsentOutbox(db, batchSize);
    if (rows.length === 0) return { sent: 0, more: false, failed: false };

    const confirmed: { id: number; subject: string | null }[] = [];
    const inFlight = new Set<Promise<void>>();
    // The publish in flight of each subject: the next row of that subject waits for its confirm.
    const subjectInFlight = new Map<string, Promise<void>>();
    // One waiter woken by whichever publish settles first. Promise.race(inFlight) here would attach a
    // reaction to every in-flight publish for each row: maxInFlight times the work, most of a round's CPU.
    let slotFreed: (() => void) | undefined;
    let failure: { id: number; err: unknown } | undefined;
    for (const row of rows) {
      while (inFlight.size >= maxInFlight && failure === undefined) {
        await new Promise<void>((resolve) => {
          slotFreed = resolve;
        });
      }
      if (failure !== undefined) break;
      const earlier = row.subject === null ? undefined : subjectInFlight.get(row.subject);
      if (earlier !== undefined) {
        await earlier;
        // The earlier row of this subject (or another one) failed: this one must not overtake it.
        if (failure !== undefined) break;
      }
      if (!broker.isConnected()) {
        // Do not hand rabbitmq-client a publish that it would hold until it reconnects.
        failure = { id: row.id, err: new Error('broker disconnected') };
        break;
      }
      const publish = publishRow(row).then(
        () => {
          confirmed.push({ id: row.id, subject: row.subject });
        },
        (err: unknown) => {
          if (failure === undefined || row.id < failure.id) failure = { id: row.id, err };
        },
      );
      const tracked: Promise<void> = publish.finally(() => {
        inFlight.delete(tracked);
        if (row.subject !== null && subjectInFlight.get(row.subject) === tracked)
          subjectInFlight.delete(row.subject);
        const wake = slotFreed;
        slotFreed = undefined;
        wake?.();
      });
      inFlight.add(tracked);
      if (row.subject !== null) subjectInFlight.set(row.subject, tracked);
    }
    await Promise.allSettled(inFlight);

    // After a failure, a row without a subject that went out after the failed one is published again
    // in order after it; a row with a subject is not of the failed row's subject (it would have waited).
    const failedId = failure?.id;
    const sent = confirmed
      .filter((c) => failedId === undefined || c.id < failedId || c.subject !== null)
      .map((c) => c.id);
    if (sent.length > 0) {
      await markOutboxSent(db, sent);
      common.metrics.outboxPublished(sent.length);
    }
    if (failure !== undefined) {
      logger.warn(
        { id: failure.id, err: failure.err, sent: sent.length },
        'outbox publish failed; will retry from this row',
      );
    }
    return { sent: sent.length, more: rows.length === batchSize, failed: failure !== undefined };
  }

  function publishRow(row: Pick<OutboxRow, 'id' | 'exchange' | 'routing_key' | 'body'>): Promise<void> {
    return broker.publish(row.exchange, row.routing_key, row.body, { messageId: `outbox-${row.id}` });
  }

  /** Sleeps until notify(), a reconnect, stop() or `ms`, whichever is first. */
  async function idle(ms: number): Promise<void> {
    if (wakeRequested || !running) return;
    const ac = new AbortController();
    wake = () => ac.abort();
    await sleep(ms, ac.signal);
    wake = undefined;
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (running) {
      wakeRequested = false;
      let result: RoundResult;
      try {
        result = await runRound();
      } catch (err) {
        // The database is unavailable: same backoff as a broker failure.
        logger.warn({ err }, 'outbox round failed');
        result = { sent: 0, more: false, failed: true };
      }
      if (result.failed) {
        failures++;
        // While disconnected, wait for the reconnect (or the poll) rather than a growing backoff.
        const wait = broker.isConnected() ? backoffMs(failures) : pollMs;
        wakeRequested = false;
        backingOff = true;
        await idle(wait);
        backingOff = false;
        continue;
      }
      failures = 0;
      if (!result.more) await idle(pollMs);
    }
  }

  function notify(): void {
    wakeRequested = true;
    if (!backingOff) wake?.();
  }

  function onReconnect(): void {
    wakeRequested = true;
    wake?.();
  }

  return {
    start() {
      if (running) return;
      running = true;
      unsubscribe = broker.onConnected(onReconnect);
      loop = run();
    },

    async stop() {
      running = false;
      unsubscribe?.();
      wake?.();
      await loop;
      loop = undefined;
    },

    notify,

    async flush(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (let failures = 0; ; ) {
        let result: RoundResult;
        try {
          result = await runRound();
        } catch (err) {
          logger.warn({ err }, 'outbox flush round failed');
          result = { sent: 0, more: true, failed: true };
        }
        if (!result.failed && !result.more && (await backlog()) === 0) return true;
        const left = deadline - Date.now();
        if (left <= 0) return false;
        if (result.failed) await sleep(Math.min(backoffMs(++failures), left));
      }
    },

    backlog,
  };

  function backlog(): Promise<number> {
    return countUnsentOutbox(db);
  }
}
