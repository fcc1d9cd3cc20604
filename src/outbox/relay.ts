import type { Broker } from '../amqp/connection.js';
import type { LeaseTerm } from '../cluster/lease.js';
import type { Common } from '../context/common.js';
import { backoffMs } from '../internal/backoff.js';
import { PaymentError, sleep } from '../internal/errors.js';
import { holds } from '../store/repos/leases.js';
import { countUnsentOutbox, markOutboxSent, unsentOutbox } from '../store/repos/outbox.js';
import type { Db, OutboxRow } from '../store/schema.js';

export interface OutboxRelayDeps {
  db: Db;
  broker: Pick<Broker, 'publish' | 'isConnected' | 'onConnected'>;
}

/**
 * The lease's fencing check (`LeaseTerm.fence`, src/cluster/lease.ts), first thing in a transaction:
 * throws `lease_lost` once this instance no longer holds the `relay` lease.
 */
export type RelayFence = (trx: Db) => Promise<void>;

/**
 * The relay's fence for a term of the `relay` lease. A graceful stop ends the term (`term.fence` refuses
 * from then on) before the role's last flush, while the lease row keeps the term's token until the
 * release after it: from then on the row alone fences (`holds`: a token nobody replaced, so no other
 * instance can have taken the rows).
 */
export function leaseFence(term: Pick<LeaseTerm, 'name' | 'token' | 'signal' | 'fence'>): RelayFence {
  return async (trx) => {
    if (!term.signal.aborted) return term.fence(trx);
    if (!(await holds(trx, term.name, term.token)))
      throw new PaymentError('lease_lost', `this instance no longer holds the lease ${term.name}`);
  };
}

export interface OutboxRelay {
  /** Starts publishing; with `fence`, every round checks it first and marks rows sent under it. */
  start(fence?: RelayFence): void;
  /** Finishes the round in progress, then stops. */
  stop(): Promise<void>;
  /** Wake up now: rows were just committed. */
  notify(): void;
  /**
   * Publishes until nothing is pending (true) or `timeoutMs` passed or the fence refused (false). For
   * shutdown, under the fence given to the last `start()`, which must still pass (the lease still held).
   */
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
 *
 * Fenced by that lease: a round with rows to publish first runs the fence in a transaction of its own
 * (a cheap read of the lease row), and marks its rows sent in a transaction that runs the fence first.
 * When the fence refuses (`lease_lost`), the round marks nothing and the relay publishes no further
 * round. So a holder paused past its lease's TTL that wakes after another instance took the lease
 * publishes at most the round it was in (the new holder publishes those rows too: identical copies, the
 * duplicate window above) and marks nothing.
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
  let fence: RelayFence | undefined;

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
    // Still the holder? A holder paused past its TTL must not start a round once it was taken over.
    const check = fence;
    if (check !== undefined) await db.transaction().execute((trx) => check(trx));

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
      // Fenced: once another instance holds the lease, these rows are its to mark (it publishes them too).
      await db.transaction().execute(async (trx) => {
        await check?.(trx);
        await markOutboxSent(trx, sent);
      });
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
        if (isLeaseLost(err)) {
          // The lease's role stops the relay as well; until then, nothing more is published.
          logger.warn('the relay lease was lost: no further round is published');
          running = false;
          break;
        }
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
    start(withFence) {
      if (running) return;
      running = true;
      fence = withFence;
      unsubscribe?.();
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
          if (isLeaseLost(err)) {
            logger.warn('the relay lease was lost: the flush stops');
            return false;
          }
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

function isLeaseLost(err: unknown): boolean {
  return err instanceof PaymentError && err.code === 'lease_lost';
}
