import type { Common } from '../context/common.js';
import { PaymentError, sleep } from '../internal/errors.js';
import { acquireLease, holds, releaseLease, renewLease } from '../store/repos/leases.js';
import type { Db } from '../store/schema.js';

export { holds } from '../store/repos/leases.js';

/**
 * One holder's time with a lease: from the acquire that gave it `token` until it is lost or given up.
 * `signal` aborts the moment this instance learns or assumes it no longer holds the lease.
 */
export interface LeaseTerm {
  readonly name: string;
  readonly token: number;
  readonly signal: AbortSignal;
  /**
   * The fencing check, first thing inside a write transaction: throws `lease_lost` (and ends the term)
   * unless the lease still carries this term's token. See `holds` in src/store/repos/leases.ts.
   */
  fence(trx: Db): Promise<void>;
}

/** The work a lease guards. */
export interface LeaseRole {
  /** The lease was taken: start the work. A throw ends the term; the lease is tried again later. */
  start(term: LeaseTerm): Promise<void> | void;
  /** The term ended (`lost`: taken, lapsed or fenced out; `stopping`: given up): resolve once stopped. */
  stop(reason: 'lost' | 'stopping'): Promise<void> | void;
}

export interface Holding {
  readonly name: string;
  /** Resolves after the first attempt: the lease taken and its role started, or found held by another. */
  readonly settled: Promise<void>;
  /** Whether this instance holds the lease now. */
  held(): boolean;
  /** Stops the role, gives the lease up, and stops trying. */
  release(): Promise<void>;
}

export interface LeasesDeps {
  db: Db;
  /** This instance's id (src/cluster/instances.ts): the `holder` written in the lease rows. */
  holder: string;
}

export type Leases = ReturnType<typeof createLeases>;

/**
 * Named leases in the `leases` table, for work only one instance may do at a time:
 * `leases.hold('watcher:ETH', { start, stop })`. Each held lease is renewed every `leaseRenewMs`; a standby
 * tries every `leaseAcquireMs`. A holder stops acting as soon as it learns it lost the lease (a renewal
 * finds another token, a fence check fails) or as soon as it cannot be sure it still holds it (no renewal
 * succeeded for `leaseTtlMs`, counted on its own clock from when the renewal was sent). Safety does not
 * rest on those timers: the writes of a holder go through `fence`, which the database orders before any
 * takeover. On SQLite one instance runs (src/store/instance-lock.ts): its leases are taken at once.
 */
export function createLeases(common: Pick<Common, 'logger' | 'options'>, deps: LeasesDeps) {
  const { db, holder } = deps;
  const { leaseTtlMs: ttlMs, leaseRenewMs: renewMs, leaseAcquireMs: acquireMs } = common.options.cluster;
  const logger = common.logger.child({ component: 'lease' });
  const holdings = new Map<string, { holding: Holding; current: () => LeaseTerm | undefined }>();

  function hold(name: string, role: LeaseRole): Holding {
    if (holdings.has(name)) throw new Error(`lease ${name} is already held by this instance`);
    const log = logger.child({ lease: name });
    const giveUp = new AbortController();
    let current: LeaseTerm | undefined;
    let settle: () => void = () => {};
    const settled = new Promise<void>((resolve) => {
      settle = resolve;
    });

    async function term(token: number, acquireSentAt: number) {
      const ended = new AbortController();
      let deadline: NodeJS.Timeout | undefined;
      const lose = (why: string) => {
        if (ended.signal.aborted) return;
        log.warn({ token, why }, 'lease lost: stopping its work');
        ended.abort();
      };
      // No renewal confirmed for a whole TTL: another instance may hold it by now.
      const armDeadline = (sentAt: number) => {
        clearTimeout(deadline);
        if (ended.signal.aborted) return;
        deadline = setTimeout(
          () => lose('no renewal succeeded within its TTL'),
          Math.max(sentAt + ttlMs - performance.now(), 0),
        );
      };
      armDeadline(acquireSentAt);
      const leaseTerm: LeaseTerm = {
        name,
        token,
        signal: ended.signal,
        async fence(trx) {
          if (!ended.signal.aborted && (await holds(trx, name, token))) return;
          lose('a fenced write found a newer token');
          throw new PaymentError('lease_lost', `this instance no longer holds the lease ${name}`);
        },
      };
      current = leaseTerm;
      log.info({ token }, 'lease taken: this instance does its work');
      try {
        await role.start(leaseTerm);
      } catch (err) {
        log.error({ err }, 'could not start the work of the lease');
        lose('its work did not start');
      }
      settle();
      // Renewals run on their own: a renewal stuck on a cut connection must not keep the work going
      // past the deadline, which ends the term below whatever the renewal is doing.
      const wake = AbortSignal.any([ended.signal, giveUp.signal]);
      void (async () => {
        while (!wake.aborted) {
          await sleep(renewMs, wake);
          if (wake.aborted) break;
          const sentAt = performance.now();
          try {
            if (await renewLease(db, name, holder, token, ttlMs)) armDeadline(sentAt);
            else lose('another instance took it');
          } catch (err) {
            log.warn({ err }, 'could not renew the lease; trying again');
          }
        }
      })();
      if (!wake.aborted)
        await new Promise((resolve) => wake.addEventListener('abort', resolve, { once: true }));
      clearTimeout(deadline);
      const reason = ended.signal.aborted ? 'lost' : 'stopping';
      ended.abort();
      current = undefined;
      try {
        await role.stop(reason);
      } catch (err) {
        log.error({ err }, 'error while stopping the work of the lease');
      }
      if (reason === 'stopping') {
        await releaseLease(db, name, holder, token).catch((err: unknown) => {
          log.warn({ err }, 'could not release the lease: it lapses after its TTL');
        });
        log.info({ token }, 'lease released');
      }
    }

    async function run() {
      let standby = false;
      let failing = false;
      while (!giveUp.signal.aborted) {
        const sentAt = performance.now();
        let token: number | undefined;
        try {
          token = await acquireLease(db, name, holder, ttlMs);
          failing = false;
        } catch (err) {
          // Once per outage: every lease of the instance tries each second.
          if (!failing) log.warn({ err }, 'could not try the lease; trying again');
          failing = true;
        }
        if (giveUp.signal.aborted) {
          if (token !== undefined) await releaseLease(db, name, holder, token).catch(() => {});
          break;
        }
        if (token !== undefined) {
          standby = false;
          await term(token, sentAt);
        } else if (!standby) {
          standby = true;
          log.info('another instance holds the lease: standing by');
        }
        settle();
        await sleep(acquireMs, giveUp.signal);
      }
      settle();
    }

    const loop = run();
    const holding: Holding = {
      name,
      settled,
      held: () => current !== undefined,
      async release() {
        giveUp.abort();
        await loop;
        holdings.delete(name);
      },
    };
    holdings.set(name, { holding, current: () => current });
    return holding;
  }

  return {
    hold,
    /** This instance's id, the holder written in its lease rows. */
    holder,
    /** The names of the leases this instance holds now. */
    held(): string[] {
      return [...holdings.entries()].filter(([, h]) => h.current()).map(([name]) => name);
    },
    /** Gives every lease up (their roles stopped first). */
    async stop(): Promise<void> {
      await Promise.all([...holdings.values()].map((h) => h.holding.release()));
    },
  };
}
