import type { PublicClient } from 'viem';
import type { ChainConfig, SweepConfig } from '../config/types.js';
import type { Common } from '../context/common.js';
import { backoffMs } from '../internal/backoff.js';
import { errorMessage, sleep } from '../internal/errors.js';
import { createWaker } from '../internal/wake.js';
import { formatAmount } from '../money/amount.js';
import { createPayout } from '../payouts/state.js';
import { activeTreasuryPayouts, lastSweepAt, latestTreasuryPayouts } from '../store/repos/treasury.js';
import type { Db } from '../store/schema.js';
import type { Vault } from '../vault/vault.js';
import { type SweepOrders, sweepOrders, type WalletHistory } from './sweep-orders.js';
import { gwei, type SweepPlan } from './sweep-plan.js';
import { readSweepPlan } from './sweep-reads.js';

export interface SweeperDeps {
  db: Db;
  /** The chain, with its `sweep` section. */
  chain: ChainConfig & { sweep: SweepConfig; collectionAddressLc: `0x${string}` };
  /** The chain's payout node client (the lane's). */
  client: PublicClient;
  vault: Vault;
  /** Wakes the chain's payout engine: the round stored payouts for it. */
  pokePayouts: () => void;
  /**
   * Run first in each transaction that stores a round's payouts: throws when this instance no longer holds
   * the chain's `sweeper` lease (src/cluster/lease.ts), so an ex-holder never stores a second top-up.
   */
  fence?: (trx: Db) => Promise<void>;
}

/** What the status page shows of one chain's treasury (docs/TREASURY.md §4.4); amounts as exact text. */
export interface TreasuryState {
  chain: string;
  enabled: boolean;
  intervalSeconds: number;
  /** When the last round was planned, and when the next one is due (ms since the epoch). */
  lastRoundAt?: number;
  nextRoundAt?: number;
  /** When the chain's last sweep was stored. */
  lastSweepAt?: number;
  /** The last round's outcome in a line: what it stored, why it waited, or its error. */
  lastRound?: string;
  /** Funds still in the issued deposit wallets, per asset symbol. */
  held: Record<string, string>;
  /** Deposit wallets at or above a threshold in the last plan. */
  walletsAbove: number;
  gasWallet?: { address: string; balance: string; needed: string; canFund: boolean };
}

/** What one round did: its plan, the payouts it called for, and the queue ids it stored. */
export interface RoundResult {
  plan: SweepPlan;
  orders: SweepOrders;
  stored: string[];
}

export type Sweeper = ReturnType<typeof createSweeper>;

/**
 * One chain's sweeper: every `intervalSeconds`, a round: the plan (sweep-plan.ts, read by sweep-reads.ts),
 * then the payouts it calls for (sweep-orders.ts), stored for the chain's payout engine, which signs,
 * broadcasts and follows them like any payout (stored before broadcast, exactly once, audited) but answers
 * nobody. A round that stored top-ups waits for them to be final, then runs again at once to store the
 * sweeps they paid the gas of.
 */
export function createSweeper(common: Common, deps: SweeperDeps) {
  const { chain, db } = deps;
  const { sweep } = chain;
  const logger = common.logger.child({ component: 'sweeper', chain: chain.name });
  const tuning = common.options.payouts;
  const intervalMs = sweep.intervalSeconds * 1_000;
  const stop = new AbortController();
  common.stop.addEventListener('abort', () => stop.abort(), { once: true });
  const waker = createWaker(stop.signal);
  let loop: Promise<void> | undefined;
  let running: Promise<RoundResult> | undefined;
  /** Top-ups stored by the last round: once they are final, the next round comes at once (their sweeps). */
  let followUp: string[] = [];
  const state: TreasuryState = {
    chain: chain.name,
    enabled: sweep.enabled,
    intervalSeconds: sweep.intervalSeconds,
    held: {},
    walletsAbove: 0,
  };

  const decimalsOf = (symbol: string) =>
    symbol === chain.native.symbol
      ? chain.native.decimals
      : (chain.tokens.find((t) => t.symbol === symbol)?.decimals ?? 0);

  function noteState(plan: SweepPlan) {
    state.lastRoundAt = Date.now();
    state.held = Object.fromEntries(
      Object.entries(plan.held).map(([symbol, raw]) => [symbol, formatAmount(raw, decimalsOf(symbol))]),
    );
    state.walletsAbove = plan.wallets.length;
    const native = chain.native.decimals;
    state.gasWallet = {
      address: plan.gasWallet.address,
      balance: formatAmount(plan.gasWallet.balance, native),
      needed: formatAmount(plan.gasWallet.needed, native),
      canFund: plan.gasWallet.canFund,
    };
    common.metrics.sweepPlan({
      walletsAbove: plan.wallets.length,
      held: Object.fromEntries(Object.entries(state.held).map(([s, text]) => [s, Number(text)])),
      gasWalletCanFund: plan.gasWallet.canFund,
    });
  }

  async function histories(wallets: readonly string[]): Promise<Map<string, WalletHistory>> {
    const [active, latest] = await Promise.all([
      activeTreasuryPayouts(db, chain.name),
      latestTreasuryPayouts(db, chain.name, wallets),
    ]);
    const busy = new Set(active.map((p) => (p.kind === 'gas_topup' ? p.to_address : p.from_address)));
    return new Map(
      wallets.map((w) => {
        const last = latest.get(w);
        return [
          w,
          {
            busy: busy.has(w),
            latest: last && { kind: last.kind, state: last.state, createdAt: last.created_at },
          },
        ];
      }),
    );
  }

  /** Stores each wallet's payouts in a transaction of its own: one wallet's conflict spoils no other. */
  async function store(plan: SweepPlan, orders: SweepOrders): Promise<string[]> {
    const stored: string[] = [];
    for (const wallet of orders.wallets) {
      const created = await db.transaction().execute(async (trx) => {
        await deps.fence?.(trx);
        const ids: string[] = [];
        for (const row of wallet.payouts) {
          // The price the round planned at: a top-up is the sweep's gas limit at it.
          const detail = {
            round_block: plan.block.toString(),
            gas_limit: row.gas_limit,
            planned_max_fee_per_gas: plan.fees.maxFeePerGas.toString(),
          };
          if (await createPayout(trx, row, { detail })) ids.push(row.queue_id);
        }
        return ids;
      });
      stored.push(...created);
    }
    if (stored.length) deps.pokePayouts();
    return stored;
  }

  async function round(): Promise<RoundResult> {
    const read = await readSweepPlan({ db, client: deps.client, ...tuning }, chain);
    if (!read) throw new Error(`chain ${chain.name} has no sweep or no collection wallet`);
    // Without the gas wallet's key, no top-up could be signed: the round stores none (the plan says so).
    const gasKey = read.topUpCount === 0 || (await deps.vault.has(read.gasWallet.address));
    const plan = gasKey ? read : { ...read, gasWallet: { ...read.gasWallet, spare: 0n, canFund: false } };
    noteState(plan);
    const orders = sweepOrders({
      plan,
      chain,
      collectionLc: chain.collectionAddressLc,
      gasMarginPct: tuning.gasMarginPct,
      histories: await histories(plan.wallets.map((w) => w.address)),
      now: Date.now(),
    });
    const stored = await store(plan, orders);
    const topUps = stored.filter((id) => id.startsWith('gas_topup:'));
    if (topUps.length) {
      followUp = topUps;
      waker.wake();
    }
    if (stored.some((id) => id.startsWith('sweep:'))) state.lastSweepAt = Date.now();
    state.lastRound = plan.skipped
      ? plan.skipped
      : `block ${plan.block}: ${orders.topUps} top-up(s), ${orders.sweeps} sweep(s) stored` +
        (orders.waiting.length ? `, ${orders.waiting.length} wallet(s) waiting` : '');
    const log = stored.length || plan.skipped ? logger.info.bind(logger) : logger.debug.bind(logger);
    log(
      {
        block: plan.block.toString(),
        feeGwei: gwei(plan.fees.currentPerGas),
        topUps: orders.topUps,
        sweeps: orders.sweeps,
        waiting: orders.waiting,
        skipped: plan.skipped,
      },
      'sweep round',
    );
    if (!plan.gasWallet.canFund) {
      logger.warn(
        { gasWallet: plan.gasWallet.address, needed: state.gasWallet?.needed },
        'the gas wallet cannot fund the sweep round',
      );
    }
    return { plan, orders, stored };
  }

  /** Until none of `ids` is in flight any more, or `ms` passed. */
  async function settled(ids: readonly string[], ms: number) {
    const until = Date.now() + ms;
    const wanted = new Set(ids);
    while (!stop.signal.aborted && Date.now() < until) {
      const active = await activeTreasuryPayouts(db, chain.name);
      if (!active.some((p) => wanted.has(p.queue_id))) return;
      await sleep(tuning.pollMs, stop.signal);
    }
  }

  /** One round now (or the one in progress): for `sweep` from the command line and for tests. */
  function sweepNow(): Promise<RoundResult> {
    running ??= round().finally(() => {
      running = undefined;
    });
    return running;
  }

  async function run() {
    state.lastSweepAt = await lastSweepAt(db, chain.name).catch(() => undefined);
    let failures = 0;
    while (!stop.signal.aborted) {
      try {
        if (followUp.length) {
          // The sweeps those top-ups pay for come as soon as they are final, not an interval later.
          const ids = followUp;
          followUp = [];
          await settled(ids, intervalMs);
          if (stop.signal.aborted) break;
        }
        await sweepNow();
        failures = 0;
        if (followUp.length) continue;
      } catch (err) {
        failures++;
        state.lastRound = `failed: ${errorMessage(err).split('\n')[0]}`;
        logger.warn({ err, failures }, 'sweep round failed; retrying');
        await sleep(Math.min(backoffMs(failures), intervalMs), stop.signal);
        continue;
      }
      state.nextRoundAt = Date.now() + intervalMs;
      await waker.wait(intervalMs);
    }
  }

  return {
    start() {
      if (!sweep.enabled) return;
      loop = run();
    },
    async stop() {
      stop.abort();
      await loop;
      await running?.catch(() => undefined);
    },
    sweepNow,
    state(): TreasuryState {
      return { ...state, held: { ...state.held } };
    },
  };
}
