import { NATIVE_ADDRESS_LC } from '../config/chains.js';
import { formatAmount } from '../money/amount.js';
import type { NewPayout, PayoutKind, PayoutState } from '../store/schema.js';
import { NATIVE_TRANSFER_GAS, type SweepPlan, type WalletSweep } from './sweep-plan.js';

/**
 * What a round of the sweeper stores as payouts (docs/TREASURY.md §4.3): from a plan (sweep-plan.ts) and
 * what each wallet's earlier treasury transfers did. Pure, so every rule is unit-tested.
 *
 * A wallet moves in two steps, each a payout of its own kind: the gas wallet's `gas_topup` when the wallet
 * cannot pay its sweeps' gas, then, once that is final, the `sweep` of each token (the native surplus in a
 * later round, once no token is left to sweep: its gas then is known). Every step is decided again from
 * the database and the chain, never from memory, so a crash anywhere leaves nothing to do twice:
 *
 * - a wallet with a treasury transfer still in flight is left alone;
 * - a wallet whose last treasury transfer is a confirmed top-up is swept without a new top-up, even if the
 *   node read does not show the coin yet (a lagging backend must not make the gas wallet pay twice).
 *
 * Queue ids name the chain, the block the plan read, the wallet and the asset, so two rounds planned at the
 * same block store the same rows once.
 */

/** A treasury transfer as the sweeper needs to know it. */
export interface TreasuryTransfer {
  kind: PayoutKind;
  state: PayoutState;
  createdAt: number;
}

export interface WalletHistory {
  /** A treasury transfer of the wallet (to it, or from it) not final yet. */
  busy: boolean;
  /** Its latest treasury transfer, final or not. */
  latest: TreasuryTransfer | undefined;
}

export interface SweepOrderInput {
  plan: SweepPlan;
  chain: { name: string; native: { symbol: string; decimals: number } };
  collectionLc: string;
  /** The margin the plan's gas limits carry above the node's estimate (the payout engine's, 20%). */
  gasMarginPct: number;
  histories: ReadonlyMap<string, WalletHistory>;
  now: number;
}

/** Why a wallet of the plan gets no payout this round. */
export type SweepWait = 'busy' | 'gas_wallet_short';

export interface WalletOrders {
  address: string;
  /** Stored together, in one transaction. */
  payouts: NewPayout[];
}

export interface SweepOrders {
  wallets: WalletOrders[];
  waiting: { address: string; why: SweepWait }[];
  topUps: number;
  sweeps: number;
}

function payout(
  input: SweepOrderInput,
  p: Pick<NewPayout, 'queue_id' | 'kind' | 'symbol' | 'token_address' | 'from_address' | 'to_address'> & {
    amount: bigint;
    decimals: number;
    gasLimit: bigint;
  },
): NewPayout {
  return {
    queue_id: p.queue_id,
    kind: p.kind,
    order_id: null,
    chain: input.chain.name,
    chain_name: input.chain.name,
    symbol: p.symbol,
    token_address: p.token_address,
    from_address: p.from_address,
    to_address: p.to_address,
    amount_raw: p.amount.toString(),
    amount_text: formatAmount(p.amount, p.decimals),
    state: 'accepted',
    sender: null,
    nonce: null,
    // The limit the round planned (and topped up for): the signer uses it, never more.
    gas_limit: p.gasLimit.toString(),
    tx_hash: null,
    last_sent_block: null,
    mined_block: null,
    mined_block_hash: null,
    reverted: 0,
    fee_wei: null,
    error_code: null,
    error_message: null,
    created_at: input.now,
    updated_at: input.now,
  };
}

/** The queue id of one treasury transfer: unique per chain, planned block, wallet and asset. */
export function treasuryQueueId(
  kind: PayoutKind,
  chain: string,
  block: bigint,
  wallet: string,
  symbol?: string,
) {
  return [kind, chain, block.toString(), wallet, ...(symbol ? [symbol] : [])].join(':');
}

/**
 * A wallet whose coin falls short of its one token sweep's gas limit but covers the node's estimate under
 * it (the limit less its margin): that sweep with the limit the coin pays for, and no top-up. A new deposit
 * since the last top-up can raise the estimate by a few units of gas; topping up again for them would cost
 * a whole transaction.
 */
function fitted(input: SweepOrderInput, w: WalletSweep): WalletSweep | undefined {
  const price = input.plan.fees.maxFeePerGas;
  const [only] = w.tokens;
  if (w.tokens.length !== 1 || !only || !only.estimated || price === 0n) return undefined;
  const estimate = (only.gasLimit * 100n) / BigInt(100 + input.gasMarginPct);
  const affordable = w.nativeSpare / price;
  if (affordable < estimate || affordable >= only.gasLimit) return undefined;
  return { ...w, topUp: 0n, tokens: [{ ...only, gasLimit: affordable }] };
}

function sweepsOf(input: SweepOrderInput, w: WalletSweep): NewPayout[] {
  const { plan, chain, collectionLc } = input;
  if (w.tokens.length > 0) {
    return w.tokens.map((t) =>
      payout(input, {
        queue_id: treasuryQueueId('sweep', chain.name, plan.block, w.address, t.symbol),
        kind: 'sweep',
        symbol: t.symbol,
        token_address: t.tokenLc,
        from_address: w.address,
        to_address: collectionLc,
        amount: t.amount,
        decimals: t.decimals,
        gasLimit: t.gasLimit,
      }),
    );
  }
  if (w.nativeSweep <= 0n) return [];
  return [
    payout(input, {
      queue_id: treasuryQueueId('sweep', chain.name, plan.block, w.address, chain.native.symbol),
      kind: 'sweep',
      symbol: chain.native.symbol,
      token_address: NATIVE_ADDRESS_LC,
      from_address: w.address,
      to_address: collectionLc,
      amount: w.nativeSweep,
      decimals: chain.native.decimals,
      gasLimit: NATIVE_TRANSFER_GAS,
    }),
  ];
}

/**
 * The round's payouts, wallet by wallet in HD order: a top-up while the gas wallet's spare balance covers
 * it and its fee (a wallet it cannot cover waits for a later round), else the sweeps. Nothing when the plan
 * was skipped (fees above the cap) or sweeping is disabled.
 */
export function sweepOrders(input: SweepOrderInput): SweepOrders {
  const { plan, chain } = input;
  const out: SweepOrders = { wallets: [], waiting: [], topUps: 0, sweeps: 0 };
  if (!plan.enabled || plan.skipped) return out;
  const topUpFee = NATIVE_TRANSFER_GAS * plan.fees.maxFeePerGas;
  let gasBudget = plan.gasWallet.spare;
  for (const planned of plan.wallets) {
    const w = planned.topUp > 0n ? (fitted(input, planned) ?? planned) : planned;
    const history = input.histories.get(w.address);
    if (history?.busy) {
      out.waiting.push({ address: w.address, why: 'busy' });
      continue;
    }
    const latest = history?.latest;
    const funded = latest?.kind === 'gas_topup' && latest.state === 'confirmed';
    if (w.topUp > 0n && !funded) {
      if (gasBudget < w.topUp + topUpFee) {
        out.waiting.push({ address: w.address, why: 'gas_wallet_short' });
        continue;
      }
      gasBudget -= w.topUp + topUpFee;
      out.topUps++;
      out.wallets.push({
        address: w.address,
        payouts: [
          payout(input, {
            queue_id: treasuryQueueId('gas_topup', chain.name, plan.block, w.address),
            kind: 'gas_topup',
            symbol: chain.native.symbol,
            token_address: NATIVE_ADDRESS_LC,
            from_address: plan.gasWallet.address,
            to_address: w.address,
            amount: w.topUp,
            decimals: chain.native.decimals,
            gasLimit: NATIVE_TRANSFER_GAS,
          }),
        ],
      });
      continue;
    }
    const sweeps = sweepsOf(input, w);
    if (sweeps.length === 0) continue;
    out.sweeps += sweeps.length;
    out.wallets.push({ address: w.address, payouts: sweeps });
  }
  return out;
}
