import type { Common } from '../context/common.js';
import { backoffMs } from '../internal/backoff.js';
import { sleep } from '../internal/errors.js';
import { createWaker } from '../internal/wake.js';
import { createBroadcaster } from './broadcast.js';
import { createSenderClaims } from './claims.js';
import type { PayoutEngineDeps, PayoutParts } from './context.js';
import { type Fees, suggestFees } from './fees.js';
import { createSigner } from './sign.js';
import { createTracker } from './track.js';
import { createTransactionBuilders } from './transactions.js';

export type { PayoutEngineDeps } from './context.js';

export type PayoutEngine = ReturnType<typeof createPayoutEngine>;

/**
 * Moves payouts through `accepted → signed → sent → mined → confirmed` (or `failed`), committing each
 * state before the side effect that follows it: the signed transaction is stored before it is broadcast,
 * and the response is written with the final state. One engine per chain on each instance, sending for
 * the wallets whose sender leases the instance holds (claims.ts); each pass routes new payouts, claims
 * wallets when due, then signs what was accepted (sign.ts), broadcasts what is signed (broadcast.ts),
 * and, at each new head, follows what is in flight (track.ts).
 */
export function createPayoutEngine(common: Common, deps: PayoutEngineDeps) {
  const { client } = deps.chain;
  const logger = common.logger.child({ component: 'payouts', chain: deps.chain.name });
  const tuning = common.options.payouts;
  const stop = new AbortController();
  common.stop.addEventListener('abort', () => stop.abort(), { once: true });
  const waker = createWaker(stop.signal);
  let loop: Promise<void> | undefined;
  let feeCache: { head: number; fees: Fees } | undefined;
  let lastTrackedHead = -1;
  const claims = createSenderClaims(common, {
    db: deps.db,
    chain: deps.chain,
    vault: deps.vault,
    leases: deps.leases,
  });

  /** Wake now; `recheck` looks at the receipts again even at the same head (a reorganisation replaced blocks). */
  function poke(recheck = false) {
    if (recheck) lastTrackedHead = -1;
    waker.wake();
  }

  async function fees(head: number): Promise<Fees> {
    if (feeCache?.head === head) return feeCache.fees;
    const suggested = await suggestFees(client, deps.chain.maxFeePerGasWei);
    feeCache = { head, fees: suggested };
    return suggested;
  }

  const parts: PayoutParts = {
    db: deps.db,
    chain: deps.chain,
    client,
    signKey: deps.signKey,
    vault: deps.vault,
    afterCommit: () => deps.afterCommit?.(),
    fees,
    poke,
    transactions: createTransactionBuilders(deps.chain.chainId),
    routes: () => claims.wallets(),
    claimSoon: () => claims.soon(),
    write: (wallets, work) =>
      deps.db.transaction().execute(async (trx) => {
        await claims.fence(trx, wallets);
        return work(trx);
      }),
  };
  // The parts log as the engine does: with its component and chain.
  const partCommon: Common = { ...common, logger };
  const { signAccepted } = createSigner(partCommon, parts);
  const broadcaster = createBroadcaster(partCommon, parts);
  const { broadcastSigned, recover } = broadcaster;
  const { track } = createTracker(partCommon, { ...parts, broadcaster });

  async function pass() {
    const routed = await claims.route();
    if (claims.due(routed)) await claims.round();
    if (claims.wallets().length === 0) return;
    const head = Number(await client.getBlockNumber({ cacheTime: 0 }));
    // Wallets just taken (at start, or from an instance that died): their stored transactions in flight
    // are sent again, never signed anew, and followed at this head.
    const fresh = claims.fresh();
    if (fresh.length > 0) {
      await recover(head, fresh);
      claims.recovered(fresh);
      lastTrackedHead = -1;
    }
    // Follow what is in flight first: a transaction mined since the last head must leave `sent` before the
    // funds check below, or its amount would count twice (once in the balance, once as in flight).
    if (head !== lastTrackedHead) {
      await track(head);
      lastTrackedHead = head;
    }
    for (;;) {
      const { selected, moved } = await signAccepted(head);
      await broadcastSigned(head);
      // More may wait; stop when a batch made no progress (estimates failing), or the loop would spin.
      if (selected < tuning.batchSize || moved === 0 || stop.signal.aborted) break;
    }
  }

  async function run() {
    let failures = 0;
    while (!stop.signal.aborted) {
      try {
        await pass();
        failures = 0;
      } catch (err) {
        failures++;
        logger.warn({ err, failures }, 'payout pass failed; retrying');
        await sleep(backoffMs(failures), stop.signal);
        continue;
      }
      await waker.wait(tuning.pollMs);
    }
  }

  return {
    start() {
      loop = run();
    },
    /** Finishes the pass in progress, then stops and gives its sender leases up. */
    async stop() {
      stop.abort();
      await loop;
      await claims.stop();
    },
    /** Wake now: a request was accepted, or a block arrived. */
    poke,
  };
}
