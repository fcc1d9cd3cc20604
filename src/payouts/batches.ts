import { randomUUID } from 'node:crypto';
import { type Address, type Hex, maxUint256 } from 'viem';
import {
  allowanceCalls,
  batchRef,
  batchTotal,
  batchTransferData,
  readBatcherAllowance,
} from '../batch/index.js';
import { isNativeAddress } from '../config/chains.js';
import type { Common } from '../context/common.js';
import { errorMessage } from '../internal/errors.js';
import { formatAmount } from '../money/amount.js';
import { activeApprovals } from '../store/repos/payouts.js';
import type { NewPayout, PayoutRow } from '../store/schema.js';
import type { PayoutParts } from './context.js';
import type { Fees } from './fees.js';
import { isAnsweredKind } from './respond.js';
import { createPayout, movePayout } from './state.js';

/**
 * Batch payouts (PROTOCOL §2.13): the token withdrawals and payments the collection wallet pays are
 * gathered into one transaction to the project's batcher contract, which pays each recipient with the
 * token's `transferFrom` and tells in its events which payments went through.
 *
 * A batch is itself a payout, of kind `batch`, from the collection wallet to the batcher with its exact
 * calldata: the engine signs it, stores it before the broadcast, follows it, replaces it, rebroadcasts it
 * after a crash, like any payout, and answers nobody for it. Its members move `accepted → batched` in the
 * transaction that stores it, and are settled with it (batch-settle.ts): each one answered once, with the
 * batch's hash, a share of its fee and its own status.
 *
 * Only payouts that passed their own simulation (the signer's estimate of the plain transfer) are
 * gathered, and the batch is simulated as a whole before it is stored; a batch whose simulation fails is
 * not stored, and its payouts are paid one by one. The batcher draws from the collection wallet under an
 * allowance the engine keeps: when it falls short, `approve` payouts (audited like any) set it, and the
 * payouts wait for them.
 */

/** A payout the signer decided to pay, from this sender, with this gas. */
export interface PayDecision {
  row: PayoutRow;
  kind: 'pay';
  sender: Hex;
  gas?: bigint;
  fee?: Fees;
}

/** The allowance the batcher is given: unlimited, so one approval serves every batch after it. */
const APPROVAL_TARGET = maxUint256;

export function createBatchGatherer(common: Common, ctx: PayoutParts) {
  const { db, client, chain } = ctx;
  const logger = common.logger.child({ part: 'batches' });
  const config = common.config.chains.find((c) => c.name === chain.name)?.batch;
  const collection = chain.collectionAddressLc;
  const batcher = config?.enabled ? config.addressLc : undefined;
  const { gasMarginPct } = common.options.payouts;

  /** Withdrawals and payments of a token, paid by the collection wallet, never in a batch before. */
  function batchable(d: PayDecision): boolean {
    const { row } = d;
    return (
      d.sender === collection &&
      isAnsweredKind(row.kind) &&
      !isNativeAddress(row.token_address) &&
      row.batch_id === null
    );
  }

  function symbolOf(token: string) {
    return chain.tokens.find((t) => t.addressLc === token) ?? { symbol: '?', decimals: 0 };
  }

  /** `approve` payouts to bring the allowance to the target, unless some are still in flight. */
  async function approve(token: Address, current: bigint, needed: bigint, now: number) {
    if ((await activeApprovals(db, chain.name, token)) > 0) return;
    const calls = allowanceCalls(batcher as Address, current, needed, APPROVAL_TARGET);
    const id = `approve:${chain.name}:${token}:${now}`;
    await ctx.write([collection!], async (trx) => {
      for (const [i, call] of calls.entries()) {
        const row = internalRow(`${id}:${i + 1}`, 'approve', token, token, 0n, call.data, now + i);
        await createPayout(trx, row, {
          detail: { spender: batcher, allowance: call.value.toString(), from: current.toString() },
        });
      }
    });
    logger.info(
      { token, current: current.toString(), calls: calls.length },
      'batcher allowance short: approval stored',
    );
    ctx.poke();
  }

  function internalRow(
    queueId: string,
    kind: 'batch' | 'approve',
    token: string,
    to: string,
    amount: bigint,
    data: Hex,
    now: number,
    gasLimit?: bigint,
  ): NewPayout {
    const { symbol, decimals } = symbolOf(token);
    return {
      queue_id: queueId,
      kind,
      order_id: null,
      chain: chain.name,
      chain_name: chain.name,
      symbol,
      token_address: token,
      from_address: collection!,
      to_address: to,
      route: collection!,
      amount_raw: amount.toString(),
      amount_text: formatAmount(amount, decimals),
      state: 'accepted',
      sender: null,
      nonce: null,
      gas_limit: gasLimit?.toString() ?? null,
      tx_hash: null,
      last_sent_block: null,
      mined_block: null,
      mined_block_hash: null,
      reverted: 0,
      fee_wei: null,
      error_code: null,
      error_message: null,
      call_data: data,
      created_at: now,
      updated_at: now,
    };
  }

  /** Simulates and stores one batch with its members. Resolves false when the simulation failed. */
  async function store(token: Address, members: PayDecision[], now: number): Promise<boolean> {
    const items = members.map((d) => ({
      to: d.row.to_address as Address,
      amountRaw: BigInt(d.row.amount_raw),
      ref: batchRef(d.row.queue_id),
    }));
    const data = batchTransferData(token, items);
    let gas: bigint;
    try {
      gas = await client.estimateGas({ account: collection!, to: batcher!, data, blockTag: 'latest' });
    } catch (err) {
      logger.warn(
        { token, payouts: members.length, err: errorMessage(err).split('\n')[0] },
        'batch simulation failed: paid one by one',
      );
      return false;
    }
    const id = `batch:${chain.name}:${randomUUID()}`;
    const limit = (gas * BigInt(100 + gasMarginPct)) / 100n;
    const carrier = internalRow(id, 'batch', token, batcher!, batchTotal(items), data, now, limit);
    await ctx.write([collection!], async (trx) => {
      await createPayout(trx, carrier, {
        detail: { batcher, payouts: members.length, gas: limit.toString() },
      });
      for (const d of members) {
        const moved = await movePayout(
          trx,
          d.row,
          { to: 'batched', set: { batch_id: id, sender: collection! }, audit: { detail: { batch: id } } },
          now,
        );
        if (!moved) throw new Error(`payout ${d.row.queue_id} changed under the worker`);
      }
    });
    for (let i = 0; i < members.length; i++) common.metrics.payoutTransition('accepted', 'batched');
    logger.info({ batch: id, token, payouts: members.length, gas: limit.toString() }, 'batch stored');
    ctx.poke();
    return true;
  }

  /**
   * Takes from the pass's decisions the payouts a batch carries now, or that wait to be gathered (for more
   * payouts, or for the allowance); resolves the others, to be paid one by one.
   */
  async function gather(decisions: PayDecision[]): Promise<PayDecision[]> {
    if (!config?.enabled || !batcher || !collection) return decisions;
    const byToken = new Map<Address, PayDecision[]>();
    for (const d of decisions.filter(batchable)) {
      const token = d.row.token_address as Address;
      byToken.set(token, [...(byToken.get(token) ?? []), d]);
    }
    const taken = new Set<PayDecision>();
    const now = Date.now();
    for (const [token, group] of byToken) {
      const oldest = Math.min(...group.map((d) => d.row.created_at));
      // Gathering: wait until the batch is full or its first payout has waited long enough.
      if (group.length < config.maxSize && now - oldest < config.maxWaitMs) {
        for (const d of group) taken.add(d);
        continue;
      }
      // One payout alone is cheaper as a plain transfer.
      if (group.length < 2) continue;
      const needed = batchTotal(group.map((d) => ({ amountRaw: BigInt(d.row.amount_raw) })));
      const allowance = await readBatcherAllowance(client, token, collection, batcher);
      if (allowance < needed) {
        await approve(token, allowance, needed, now);
        for (const d of group) taken.add(d);
        continue;
      }
      for (let i = 0; i < group.length; i += config.maxSize) {
        const members = group.slice(i, i + config.maxSize);
        if (members.length < 2) continue;
        if (await store(token, members, now)) for (const d of members) taken.add(d);
      }
    }
    return decisions.filter((d) => !taken.has(d));
  }

  return { gather };
}
