import { type Hex, keccak256 } from 'viem';
import type { Common } from '../context/common.js';
import {
  insertPayoutTxs,
  payoutsInStates,
  setLastSentBlock,
  transactionsOfPayouts,
} from '../store/repos/payouts.js';
import type { PayoutRow, PayoutTxRow } from '../store/schema.js';
import type { createBroadcaster } from './broadcast.js';
import { broadcast, getReceipt, type RawReceipt } from './chain.js';
import type { PayoutParts } from './context.js';
import { bumpFees, type Fees } from './fees.js';
import { failure, payoutResponse } from './respond.js';
import { type MoveAudit, movePayout, recordPayoutEvent } from './state.js';

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
  const { confirmHeight, maxFeePerGasWei: feeCap, replaceAfterBlocks } = ctx.chain;
  const { serializable, txFields, feeDetail } = ctx.transactions;

  // ---- sent → mined → confirmed, replacements, reorgs ---------------------------------------------

  function minedAudit(
    mined: Pick<PayoutRow, 'tx_hash' | 'mined_block' | 'mined_block_hash' | 'fee_wei' | 'reverted'>,
    toState: 'mined' | 'confirmed' | 'failed',
  ): MoveAudit {
    return {
      txHash: mined.tx_hash,
      blockNumber: mined.mined_block,
      detail: {
        blockHash: mined.mined_block_hash,
        feeWei: mined.fee_wei,
        reverted: mined.reverted === 1,
        ...(toState === 'failed' ? { error: 'reverted' } : {}),
      },
    };
  }

  async function settle(row: PayoutRow, receipt: RawReceipt, head: number) {
    const minedBlock = Number(BigInt(receipt.blockNumber));
    const fee = BigInt(receipt.gasUsed) * BigInt(receipt.effectiveGasPrice ?? '0x0');
    const reverted = BigInt(receipt.status) === 0n;
    const mined = {
      tx_hash: receipt.transactionHash.toLowerCase(),
      mined_block: minedBlock,
      mined_block_hash: receipt.blockHash.toLowerCase(),
      fee_wei: fee.toString(),
      reverted: reverted ? 1 : 0,
    };
    const final = head - minedBlock + 1 >= confirmHeight;
    const now = Date.now();
    if (!final) {
      if (row.state === 'mined' && row.mined_block_hash === mined.mined_block_hash) return;
      // mined → mined: the same transaction found in another block after a reorganisation.
      const moved = await db
        .transaction()
        .execute((trx) =>
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
    const outcome = reverted
      ? failure('reverted', `transaction ${mined.tx_hash} reverted in block ${minedBlock}`)
      : ({ status: 1 } as const);
    const errorFields =
      outcome.status === 0 ? { error_code: outcome.error, error_message: outcome.errorMessage } : {};
    const answer = payoutResponse(rmq, signKey, { ...row, ...mined }, outcome);
    const moved = await db
      .transaction()
      .execute((trx) =>
        movePayout(
          trx,
          row,
          { to: state, set: { ...mined, ...errorFields }, audit: minedAudit(mined, state), answer },
          now,
        ),
      );
    if (!moved) return;
    logger.info(
      { queueId: row.queue_id, txHash: mined.tx_hash, block: minedBlock, fee: fee.toString() },
      `payout ${state}`,
    );
    metrics.payoutTransition(row.state, state);
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
    const bumped = bumpFees(old, await fees(head), feeCap);
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
    const recorded = await db.transaction().execute(async (trx) => {
      await insertPayoutTxs(trx, [
        {
          tx_hash: hash,
          queue_id: row.queue_id,
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
    const rows = await payoutsInStates(db, ['sent', 'mined']);
    if (rows.length === 0) return;
    const txs = await transactionsOfPayouts(
      db,
      rows.filter((r) => r.state === 'sent').map((r) => r.queue_id),
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
      const candidates =
        row.state === 'mined' ? [row.tx_hash!] : (txsOf.get(row.queue_id) ?? []).map((t) => t.tx_hash);
      const receipt = candidates.map((h) => receipts.get(h)).find((r): r is RawReceipt => Boolean(r));
      if (receipt) {
        await settle(row, receipt, head);
        continue;
      }
      if (row.state === 'mined') {
        reorged.push(row);
        continue;
      }
      if (head - Number(row.last_sent_block ?? head) >= replaceAfterBlocks) {
        if (await nonceTakenByOthers(row, head)) {
          await requeue(row);
          continue;
        }
        const latest = (txsOf.get(row.queue_id) ?? []).find((t) => t.tx_hash === row.tx_hash);
        if (latest) await replace(row, latest, head);
      }
    }
    if (reorged.length) await followReorged(reorged, head);
  }

  /**
   * Whether the payout's nonce was used by a transaction that is not ours, in a block already
   * `confirmHeight` deep: then none of our transactions for it can ever be mined.
   */
  async function nonceTakenByOthers(row: PayoutRow, head: number): Promise<boolean> {
    const finalBlock = head - confirmHeight + 1;
    if (finalBlock < 0 || row.nonce === null) return false;
    const finalCount = await client.getTransactionCount({
      address: row.sender as Hex,
      blockNumber: BigInt(finalBlock),
    });
    return finalCount > Number(row.nonce);
  }

  /** Back to `accepted` after its nonce went to another transaction: it is paid anew, nothing was sent. */
  async function requeue(row: PayoutRow) {
    const now = Date.now();
    const moved = await db.transaction().execute((trx) =>
      movePayout(
        trx,
        row,
        {
          to: 'accepted',
          set: { sender: null, nonce: null, gas_limit: null, tx_hash: null, last_sent_block: null },
          audit: {
            txHash: row.tx_hash,
            detail: { nonceTakenByOthers: true, sender: row.sender, nonce: Number(row.nonce) },
          },
        },
        now,
      ),
    );
    if (!moved) return;
    logger.error(
      { queueId: row.queue_id, sender: row.sender, nonce: row.nonce },
      'the nonce of this payout was used by a transaction that is not ours; paying it again with a new nonce',
    );
    metrics.payoutTransition('sent', 'accepted');
    poke();
  }

  /** A mined payout whose block left the canonical chain: back to `sent`, and its transaction sent again. */
  async function followReorged(rows: PayoutRow[], head: number) {
    const now = Date.now();
    const moved: PayoutRow[] = [];
    for (const row of rows) {
      const unmined = { mined_block: null, mined_block_hash: null, fee_wei: null, reverted: 0 };
      const applied = await db.transaction().execute((trx) =>
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
