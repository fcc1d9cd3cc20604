import { type Hex, keccak256 } from 'viem';
import type { Common } from '../context/common.js';
import { formatAmount } from '../money/amount.js';
import {
  insertPayoutTxs,
  payoutsInStates,
  setLastSentBlock,
  transactionsOfPayouts,
} from '../store/repos/payouts.js';
import type { PayoutRow, PayoutTxRow } from '../store/schema.js';
import { settleBatchMembers } from './batch-settle.js';
import type { createBroadcaster } from './broadcast.js';
import { broadcast, getReceipt, minedTransactionPays, type RawReceipt } from './chain.js';
import type { PayoutParts } from './context.js';
import { bumpFees, type Fees, feeCapOf } from './fees.js';
import { findNonceUsage, type NonceUsage } from './nonce-usage.js';
import { failure, isAnsweredKind, payoutResponse } from './respond.js';
import { type Move, minedAudit, movePayout, recordPayoutEvent } from './state.js';

/**
 * `sent → mined → confirmed` (or `failed` when reverted): receipts of every hash sent under the nonce,
 * replacements of what is not mined in time, payouts whose block a reorganisation removed, and payouts
 * whose nonce another transaction took.
 */
export function createTracker(
  common: Common,
  ctx: PayoutParts & { broadcaster: ReturnType<typeof createBroadcaster> },
) {
  const { broadcastRows } = ctx.broadcaster;
  const { db, client, signKey, vault, fees, poke } = ctx;
  const { metrics, logger } = common;
  const { rmq } = common.config;
  const { confirmHeight, maxFeePerGasWei: feeCap, replaceAfterBlocks, name: chainName } = ctx.chain;
  const configured = common.config.chains.find((c) => c.name === chainName);
  const { serializable, txFields, feeDetail } = ctx.transactions;
  const settling = { rmq, signKey, chain: ctx.chain, logger };
  /** The head at which each payout's nonce was first found used by a transaction the node does not show. */
  const unresolvedSince = new Map<string, number>();
  /**
   * The transaction found using each payout's nonce, kept while its block stays canonical: once that block
   * is older than the search window (confirmHeight can be deeper than the state a node keeps), the search
   * could no longer find it, but the block itself can still be read.
   */
  const nonceUsers = new Map<string, Extract<NonceUsage, { block: number }>>();

  // ---- sent → mined → confirmed, replacements, reorgs ---------------------------------------------

  async function settle(row: PayoutRow, receipt: RawReceipt, head: number) {
    const minedBlock = Number(BigInt(receipt.blockNumber));
    const blockHash = receipt.blockHash.toLowerCase();
    const final = head - minedBlock + 1 >= confirmHeight;
    // Still mined in the same block, not final yet: nothing to write (and no node call to make).
    if (!final && row.state === 'mined' && row.mined_block_hash === blockHash) return;
    const fee = BigInt(receipt.gasUsed) * BigInt(receipt.effectiveGasPrice ?? '0x0');
    const succeeded = BigInt(receipt.status) === 1n;
    // Success without the token's Transfer to the recipient (a `transfer` that returned false), or a
    // native transfer of another value or to another address, is a failure.
    const paid = await minedTransactionPays(client, receipt, {
      token: row.token_address,
      sender: row.sender ?? '',
      to: row.to_address,
      amountRaw: BigInt(row.amount_raw),
      call: row.call_data !== null,
    });
    const reverted = !paid;
    const mined = {
      tx_hash: receipt.transactionHash.toLowerCase(),
      mined_block: minedBlock,
      mined_block_hash: blockHash,
      fee_wei: fee.toString(),
      reverted: reverted ? 1 : 0,
    };
    const now = Date.now();
    if (!final) {
      // mined → mined: the same transaction found in another block after a reorganisation.
      const moved = await ctx.write([row.route], (trx) =>
        movePayout(trx, row, { to: 'mined', set: mined, audit: minedAudit(mined, 'mined') }, now),
      );
      if (moved && row.state !== 'mined') {
        logger.info(
          { queueId: row.queue_id, txHash: mined.tx_hash, block: minedBlock, reverted },
          'payout mined',
        );
        metrics.payoutTransition(row.state, 'mined');
      }
      return;
    }
    const state = reverted ? 'failed' : 'confirmed';
    const outcome = !reverted
      ? ({ status: 1 } as const)
      : succeeded
        ? failure(
            'reverted',
            `transaction ${mined.tx_hash} in block ${minedBlock} did not move the amount to the recipient`,
          )
        : failure('reverted', `transaction ${mined.tx_hash} reverted in block ${minedBlock}`);
    const errorFields =
      outcome.status === 0 ? { error_code: outcome.error, error_message: outcome.errorMessage } : {};
    const answer = payoutResponse(rmq, signKey, { ...row, ...mined }, outcome, ctx.chain);
    const moved = await ctx.write([row.route], async (trx) => {
      const move: Move = {
        to: state,
        set: { ...mined, ...errorFields },
        audit: minedAudit(mined, state),
        answer,
      };
      if (!(await movePayout(trx, row, move, now))) return false;
      if (row.kind === 'batch')
        await settleBatchMembers(trx, settling, { ...row, ...mined }, receipt, state, now);
      return true;
    });
    if (!moved) return;
    logger.info(
      { queueId: row.queue_id, txHash: mined.tx_hash, block: minedBlock, fee: fee.toString() },
      `payout ${state}`,
    );
    metrics.payoutTransition(row.state, state);
    if (state === 'confirmed' && !isAnsweredKind(row.kind)) {
      const feeCoins = Number(formatAmount(fee, ctx.chain.native.decimals));
      metrics.treasuryTransfer(row.kind, row.symbol, Number(row.amount_text), feeCoins);
    }
    ctx.afterCommit();
  }

  /** Not mined in time: the same nonce again with both fee fields raised, stored before it is sent. */
  async function replace(row: PayoutRow, latest: PayoutTxRow, head: number) {
    const old: Fees = latest.gas_price
      ? { type: 'legacy', gasPrice: BigInt(latest.gas_price) }
      : {
          type: 'eip1559',
          maxFeePerGas: BigInt(latest.max_fee_per_gas ?? '0'),
          maxPriorityFeePerGas: BigInt(latest.max_priority_fee_per_gas ?? '0'),
        };
    // A sweep's wallet holds the gas of its round's cap and no more: a bump above it could not be paid.
    const cap = configured ? feeCapOf({ ...configured, maxFeePerGasWei: feeCap }, row.kind) : feeCap;
    const bumped = bumpFees(old, await fees(head), cap);
    if (!bumped) {
      logger.warn(
        { queueId: row.queue_id, txHash: row.tx_hash },
        'payout not mined and its fees are at the cap; sending it again',
      );
      await broadcast(client, latest.raw_tx as Hex);
      await setLastSentBlock(db, row.queue_id, head);
      return;
    }
    const raw = await vault.signTransaction(
      row.sender!,
      serializable(row, Number(row.nonce), BigInt(row.gas_limit!), bumped),
    );
    const hash = keccak256(raw);
    const now = Date.now();
    const recorded = await ctx.write([row.route], async (trx) => {
      await insertPayoutTxs(trx, [
        {
          tx_hash: hash,
          queue_id: row.queue_id,
          chain_name: chainName,
          sender: row.sender!,
          nonce: Number(row.nonce),
          raw_tx: raw,
          ...txFields(bumped),
          created_at: now,
        },
      ]);
      // An event, not a state: the payout stays `sent`, now with the new hash.
      return recordPayoutEvent(
        trx,
        row,
        'replaced',
        { tx_hash: hash, last_sent_block: head },
        {
          txHash: hash,
          blockNumber: head,
          detail: { replaces: row.tx_hash, nonce: Number(row.nonce), ...feeDetail(bumped) },
        },
        now,
      );
    });
    if (!recorded) return;
    const outcome = await broadcast(client, raw);
    logger.warn(
      {
        queueId: row.queue_id,
        oldTxHash: row.tx_hash,
        txHash: hash,
        nonce: row.nonce,
        broadcast: outcome.kind,
        ...txFields(bumped),
      },
      'payout replaced with higher fees',
    );
    metrics.payoutEvent(row.state, 'replaced');
  }

  async function track(head: number) {
    const rows = await payoutsInStates(db, chainName, ['sent', 'unresolved', 'mined'], ctx.routes());
    if (rows.length === 0) return;
    const txs = await transactionsOfPayouts(
      db,
      rows.filter((r) => r.state !== 'mined').map((r) => r.queue_id),
    );
    const txsOf = new Map<string, PayoutTxRow[]>();
    for (const t of txs) txsOf.set(t.queue_id, [...(txsOf.get(t.queue_id) ?? []), t]);
    // Every hash ever sent for a nonce: a replacement, or the first one, may be the one mined.
    const hashes = [
      ...new Set([
        ...txs.map((t) => t.tx_hash),
        ...rows.filter((r) => r.state === 'mined').map((r) => r.tx_hash!),
      ]),
    ];
    const found = await Promise.all(hashes.map((h) => getReceipt(client, h)));
    const receipts = new Map(hashes.map((h, i) => [h, found[i] ?? null]));

    const reorged: PayoutRow[] = [];
    for (const row of rows) {
      const ours = row.state === 'mined' ? [row.tx_hash!] : (txsOf.get(row.queue_id) ?? []);
      // One payout that fails here (a node error, a bad row) must never stop the others.
      try {
        const outcome = await follow(row, ours, receipts, head);
        if (outcome === 'reorged') reorged.push(row);
      } catch (err) {
        logger.warn({ err, queueId: row.queue_id }, 'following this payout failed; trying again next block');
      }
    }
    if (reorged.length) await followReorged(reorged, head);
  }

  async function follow(
    row: PayoutRow,
    ours: readonly (PayoutTxRow | string)[],
    receipts: Map<string, RawReceipt | null>,
    head: number,
  ): Promise<'reorged' | undefined> {
    const hashes = ours.map((t) => (typeof t === 'string' ? t : t.tx_hash));
    const receipt = hashes.map((h) => receipts.get(h)).find((r): r is RawReceipt => Boolean(r));
    if (receipt) {
      unresolvedSince.delete(row.queue_id);
      nonceUsers.delete(row.queue_id);
      await settle(row, receipt, head);
      return undefined;
    }
    if (row.state === 'mined') return (await blockLeftChain(row)) ? 'reorged' : undefined;
    const waited = head - Number(row.last_sent_block ?? head) >= replaceAfterBlocks;
    if (row.state === 'sent' && !waited) return undefined;
    const usage = await nonceUsage(row, hashes, head);
    if (usage.kind === 'unused') {
      const highest = highestFee(ours.filter((t): t is PayoutTxRow => typeof t !== 'string'));
      if (row.state === 'sent' && highest) await replace(row, highest, head);
      return undefined;
    }
    // Ours: its receipt will come (the node that answered the receipts lags). Foreign but recent: wait
    // until a reorganisation can no longer give the nonce back to us.
    if (usage.kind !== 'unknown') {
      if (usage.kind === 'foreign' && head - usage.block + 1 >= confirmHeight)
        await requeue(row, usage.txHash);
      return undefined;
    }
    const since = unresolvedSince.get(row.queue_id) ?? head;
    unresolvedSince.set(row.queue_id, since);
    if (row.state === 'sent' && head - since >= common.options.payouts.unresolvedAfterBlocks) {
      await hold(row, usage.why);
    }
    return undefined;
  }

  /** Who used the payout's nonce: the transaction found before if its block is still canonical, else a search. */
  async function nonceUsage(row: PayoutRow, hashes: string[], head: number): Promise<NonceUsage> {
    const known = nonceUsers.get(row.queue_id);
    if (known) {
      const block = await client.getBlock({ blockNumber: BigInt(known.block) }).catch(() => null);
      if (block?.hash?.toLowerCase() === known.blockHash) return known;
      nonceUsers.delete(row.queue_id);
    }
    const found = await findNonceUsage(
      client,
      row.sender as Hex,
      Number(row.nonce),
      hashes,
      head,
      common.options.payouts.nonceSearchBlocks,
    );
    if (found.kind === 'ours' || found.kind === 'foreign') nonceUsers.set(row.queue_id, found);
    return found;
  }

  /**
   * Whether a mined payout's block left the canonical chain: decided from the block hash at its height,
   * never from one missing receipt (a lagging backend answers null for receipts it has not indexed).
   */
  async function blockLeftChain(row: PayoutRow): Promise<boolean> {
    const block = await client.getBlock({ blockNumber: BigInt(Number(row.mined_block)) }).catch(() => null);
    if (!block?.hash) return false; // the node does not have that height yet: not a reorganisation
    return block.hash.toLowerCase() !== row.mined_block_hash;
  }

  /**
   * Held for the operator: its nonce is used, and the node does not show by which transaction. Paying
   * again could pay twice; `payout resolve` settles it, or the tracker does once the node shows it.
   */
  async function hold(row: PayoutRow, why: string) {
    const moved = await ctx.write([row.route], (trx) =>
      movePayout(trx, row, {
        to: 'unresolved',
        audit: { txHash: row.tx_hash, detail: { sender: row.sender, nonce: Number(row.nonce), why } },
      }),
    );
    if (!moved) return;
    logger.error(
      { queueId: row.queue_id, sender: row.sender, nonce: row.nonce, why },
      'the nonce of this payout was used and the node does not show by which transaction; held for the operator (payout resolve)',
    );
    metrics.payoutTransition('sent', 'unresolved');
  }

  /** Back to `accepted` after its nonce went to another transaction: it is paid anew, nothing was sent. */
  async function requeue(row: PayoutRow, foreignTx: string) {
    const now = Date.now();
    const moved = await ctx.write([row.route], (trx) =>
      movePayout(
        trx,
        row,
        {
          to: 'accepted',
          set: { sender: null, nonce: null, gas_limit: null, tx_hash: null, last_sent_block: null },
          audit: {
            txHash: row.tx_hash,
            detail: { nonceTakenByOthers: true, sender: row.sender, nonce: Number(row.nonce), foreignTx },
          },
        },
        now,
      ),
    );
    if (!moved) return;
    logger.error(
      { queueId: row.queue_id, sender: row.sender, nonce: row.nonce, foreignTx },
      'the nonce of this payout was used by a transaction that is not ours; paying it again with a new nonce',
    );
    unresolvedSince.delete(row.queue_id);
    nonceUsers.delete(row.queue_id);
    metrics.payoutTransition(row.state, 'accepted');
    poke();
  }

  /** A mined payout whose block left the canonical chain: back to `sent`, and its transaction sent again. */
  async function followReorged(rows: PayoutRow[], head: number) {
    const now = Date.now();
    const moved: PayoutRow[] = [];
    for (const row of rows) {
      const unmined = { mined_block: null, mined_block_hash: null, fee_wei: null, reverted: 0 };
      const applied = await ctx.write([row.route], (trx) =>
        movePayout(
          trx,
          row,
          {
            to: 'sent',
            set: { ...unmined, last_sent_block: head },
            audit: {
              txHash: row.tx_hash,
              blockNumber: row.mined_block,
              detail: { reorg: 'its block left the canonical chain', blockHash: row.mined_block_hash, head },
            },
          },
          now,
        ),
      );
      // Moved by another pass already: that pass logs, counts and sends it.
      if (!applied) continue;
      moved.push(row);
      logger.warn(
        { queueId: row.queue_id, txHash: row.tx_hash, block: row.mined_block },
        'mined payout removed by a reorganisation; sending it again',
      );
      metrics.payoutTransition('mined', 'sent');
    }
    await broadcastRows(
      moved.map((r) => ({ ...r, state: 'sent' as const })),
      head,
    );
  }

  return { track };
}

/** The transaction with the highest fee of a nonce: a replacement must outbid every one already sent. */
function highestFee(txs: readonly PayoutTxRow[]): PayoutTxRow | undefined {
  const fee = (t: PayoutTxRow) => BigInt(t.max_fee_per_gas ?? t.gas_price ?? '0');
  return txs.reduce<PayoutTxRow | undefined>(
    (best, t) => (!best || fee(t) > fee(best) ? t : best),
    undefined,
  );
}
