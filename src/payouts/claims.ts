import { createHash, randomBytes } from 'node:crypto';
import type { Holding, Leases, LeaseTerm } from '../cluster/lease.js';
import type { Common } from '../context/common.js';
import { PaymentError } from '../internal/errors.js';
import { listLiveInstances } from '../store/repos/instances.js';
import { heldAmong, holdingsByHolder, leaseTokens } from '../store/repos/leases.js';
import { setPayoutRoutes, unroutedPayouts, walletsWithPayouts } from '../store/repos/payout-routes.js';
import type { Db, PayoutRow, PayoutState } from '../store/schema.js';
import type { Vault } from '../vault/vault.js';
import { isAnsweredKind } from './respond.js';
import { ACTIVE_PAYOUT_STATES } from './state.js';

/** The states in which a payout needs its wallet's sender: to sign, send, follow or settle it. */
export const SENDER_WORK_STATES: readonly PayoutState[] = [
  'accepted',
  'signed',
  'sent',
  'unresolved',
  'mined',
];

/** Payouts routed per round at most (a burst is routed over a few passes). */
const ROUTE_LIMIT = 1_000;
/** Sender leases tried at once in a round (each is one short transaction). */
const CLAIM_CONCURRENCY = 16;

export interface SenderClaimsDeps {
  db: Db;
  chain: { name: string; collectionAddressLc?: string | undefined };
  vault: Pick<Vault, 'has'>;
  leases: Leases;
}

export type SenderClaims = ReturnType<typeof createSenderClaims>;

/**
 * Which wallets of a chain this instance sends for. One instance at a time signs, sends and follows the
 * payouts of a given (chain, wallet): the one holding the lease `sender:<CHAIN>:<wallet>`, so two
 * instances never race for a wallet's nonces, while different wallets are paid in parallel by different
 * instances.
 *
 * A payout is first *routed* to a wallet (`payouts.route`): the wallet it asks to pay from when the vault
 * holds it, else the collection wallet; a treasury transfer always to its own wallet. The wallet's holder
 * routes it on to the other candidate wallet when that one is to pay it (src/payouts/sign.ts).
 *
 * Each `round` claims the wallets that have payouts in flight or waiting: up to its share (the wallets
 * over the live instances, rounded up) of those nobody holds, or any wallet left unheld for a renewal
 * interval (its holder died and the others are at their share); an instance two wallets above the one
 * with the fewest hands one over (`evenOut`). A wallet without work for `idleReleaseMs` is given up. A
 * dead instance's sender leases lapse after their TTL and are taken by the next rounds; its stored
 * transactions are sent again by the new holder (the engine's `recover`), never signed again. Every write
 * of the engine for a wallet is fenced by its lease (`fence`).
 */
export function createSenderClaims(common: Pick<Common, 'logger' | 'options'>, deps: SenderClaimsDeps) {
  const { db, chain, vault, leases } = deps;
  const { leaseAcquireMs, leaseRenewMs, heartbeatMs, instanceStaleMs, leaseTtlMs } = common.options.cluster;
  const idleReleaseMs = 2 * leaseTtlMs;
  // The share counts an instance live while its heartbeats are fresh, a dead one dropping out after three
  // missed beats: before its sender leases lapse, so the others take them at their new share at once.
  const shareStaleMs = Math.min(instanceStaleMs, 3 * heartbeatMs);
  const logger = common.logger.child({ component: 'claims', chain: chain.name });
  /** The running term of each wallet this instance sends for. */
  const terms = new Map<string, LeaseTerm>();
  const holdings = new Map<string, Holding>();
  const idleSince = new Map<string, number>();
  const unheldSince = new Map<string, number>();
  /** Wallets taken since the engine last recovered their stored transactions. */
  const fresh = new Set<string>();
  // Each instance reaches for the free wallets in its own order, so instances seldom try the same one.
  const seed = randomBytes(8).toString('hex');
  const rank = (wallet: string) => createHash('sha256').update(seed).update(wallet).digest('hex');
  let lastRound = Number.NEGATIVE_INFINITY;

  const leaseName = (wallet: string) => `sender:${chain.name}:${wallet}`;

  /** The wallet a payout is routed to first. */
  async function firstRoute(row: Pick<PayoutRow, 'kind' | 'from_address' | 'sender'>): Promise<string> {
    if (row.sender) return row.sender;
    const from = row.from_address.toLowerCase();
    if (!isAnsweredKind(row.kind) || !chain.collectionAddressLc) return from;
    return (await vault.has(from)) ? from : chain.collectionAddressLc;
  }

  /**
   * Routes the chain's payouts that have no wallet yet. Any instance may: the route follows from the row
   * and the vault alone, so two instances write the same one. Resolves the wallets routed to.
   */
  async function route(): Promise<Set<string>> {
    const rows = await unroutedPayouts(db, chain.name, ACTIVE_PAYOUT_STATES, ROUTE_LIMIT);
    const byRoute = new Map<string, string[]>();
    for (const row of rows) {
      const wallet = await firstRoute(row);
      byRoute.set(wallet, [...(byRoute.get(wallet) ?? []), row.queue_id]);
    }
    for (const [wallet, ids] of byRoute) await setPayoutRoutes(db, ids, wallet);
    return new Set(byRoute.keys());
  }

  async function claim(wallet: string) {
    const holding = leases.hold(leaseName(wallet), {
      start(term) {
        terms.set(wallet, term);
        fresh.add(wallet);
      },
      stop() {
        terms.delete(wallet);
        fresh.delete(wallet);
      },
    });
    holdings.set(wallet, holding);
    await holding.settled;
    if (holding.held()) return;
    holdings.delete(wallet);
    await holding.release();
  }

  async function giveUp(wallet: string) {
    const holding = holdings.get(wallet);
    holdings.delete(wallet);
    idleSince.delete(wallet);
    await holding?.release();
  }

  /** Claims and gives up sender leases (see above). Runs between the engine's passes, never during one. */
  async function round(): Promise<void> {
    lastRound = performance.now();
    const now = lastRound;
    const wallets = await walletsWithPayouts(db, chain.name, SENDER_WORK_STATES);
    const withWork = new Set(wallets);
    for (const [wallet, holding] of holdings) {
      // A term that ended (taken over, or not renewed in time): stop trying; claimed again below if free.
      if (!holding.held()) {
        await giveUp(wallet);
        continue;
      }
      if (withWork.has(wallet)) {
        idleSince.delete(wallet);
        continue;
      }
      const since = idleSince.get(wallet) ?? now;
      idleSince.set(wallet, since);
      if (now - since >= idleReleaseMs) await giveUp(wallet);
    }
    const unheld = wallets.filter((w) => !holdings.has(w));
    for (const w of unheldSince.keys()) if (!withWork.has(w) || holdings.has(w)) unheldSince.delete(w);
    const live = await listLiveInstances(db, shareStaleMs);
    const share = Math.ceil(wallets.length / Math.max(1, live.length));
    // Wallets held without work (given up soon) do not count against the share.
    const mine = [...holdings.keys()].filter((w) => withWork.has(w)).length;
    const heldElsewhere = unheld.length > 0 ? await heldAmong(db, unheld.map(leaseName)) : new Map();
    const free = unheld.filter((w) => {
      if (!heldElsewhere.has(leaseName(w))) return true;
      unheldSince.delete(w);
      return false;
    });
    if (free.length > 0) await claimFree(free, share, mine, live.length, now);
    else if (mine > share && live.length > 1) await evenOut(mine, live, withWork);
  }

  /** Takes free wallets up to the share, and any wallet left unheld for a renewal interval. */
  async function claimFree(unheld: string[], share: number, held: number, live: number, now: number) {
    const free = [...unheld].sort((a, b) => (rank(a) < rank(b) ? -1 : 1));
    let mine = held;
    const wanted: string[] = [];
    for (const wallet of free) {
      const since = unheldSince.get(wallet) ?? now;
      unheldSince.set(wallet, since);
      // Unheld for a renewal interval, in which every live instance had rounds: the others are at their
      // share (one that just started may count as live before its engine runs).
      const orphaned = now - since >= leaseRenewMs;
      if (mine < share || orphaned) {
        wanted.push(wallet);
        mine++;
      }
    }
    for (let i = 0; i < wanted.length; i += CLAIM_CONCURRENCY) {
      await Promise.all(wanted.slice(i, i + CLAIM_CONCURRENCY).map(claim));
    }
    if (wanted.length > 0) {
      logger.debug({ wanted: wanted.length, held: terms.size, share, live }, 'sender leases claimed');
    }
  }

  /**
   * Above its share while another live instance holds two wallets fewer (it started later, or took
   * wallets over while this one was away): one wallet a round is given up, for that one to take. Its
   * payouts in flight go over as after a crash: sent again as stored, never signed again.
   */
  async function evenOut(mine: number, live: { id: string }[], withWork: Set<string>) {
    const counts = await holdingsByHolder(db, `sender:${chain.name}:`);
    const fewest = Math.min(...live.filter((i) => i.id !== leases.holder).map((i) => counts.get(i.id) ?? 0));
    if (fewest > mine - 2) return;
    const wallet = [...terms.keys()]
      .filter((w) => withWork.has(w))
      .sort((a, b) => (rank(a) < rank(b) ? 1 : -1))[0];
    if (wallet === undefined) return;
    logger.info({ wallet, held: mine, fewest }, 'handing a wallet over to even out the senders');
    await giveUp(wallet);
  }

  return {
    route,
    round,
    /** Whether a round is due: every lease-acquire interval, or now for a wallet routed but not held. */
    due(routed: Set<string>): boolean {
      if (performance.now() - lastRound >= leaseAcquireMs) return true;
      for (const w of routed) if (!holdings.has(w)) return true;
      return false;
    },
    /** A payout was routed on to a wallet: the next pass claims it if nobody holds it. */
    soon() {
      lastRound = Number.NEGATIVE_INFINITY;
    },
    /** The wallets this instance sends for now. */
    wallets(): string[] {
      return [...terms.keys()];
    },
    /** Wallets taken since `recovered` was last called with them. */
    fresh(): string[] {
      return [...fresh];
    },
    recovered(wallets: readonly string[]) {
      for (const w of wallets) fresh.delete(w);
    },
    /**
     * The fencing check for a write about these wallets' payouts, first thing in its transaction: throws
     * `lease_lost` unless this instance still holds every one of their sender leases.
     */
    async fence(trx: Db, wallets: Iterable<string | null>): Promise<void> {
      const fenced: LeaseTerm[] = [];
      for (const wallet of new Set(wallets)) {
        const term = wallet === null ? undefined : terms.get(wallet);
        if (!term) {
          throw new PaymentError('lease_lost', `this instance does not send for ${wallet} on ${chain.name}`);
        }
        fenced.push(term);
      }
      if (fenced.length === 1) return fenced[0]!.fence(trx);
      // Several wallets (a broadcast of many): one read for all; a term found stale is failed by its own
      // fence, which ends it.
      const tokens = await leaseTokens(
        trx,
        fenced.map((t) => t.name),
      );
      for (const term of fenced) {
        if (term.signal.aborted || tokens.get(term.name) !== term.token) await term.fence(trx);
      }
    },
    /** Gives every sender lease up (call once the engine stopped). */
    async stop(): Promise<void> {
      await Promise.all([...holdings.keys()].map(giveUp));
    },
  };
}
