import type { Hex } from 'viem';
import type { Common } from '../context/common.js';
import { payoutsInState, signedTransactions } from '../store/repos/payouts.js';
import type { PayoutRow } from '../store/schema.js';
import { broadcast } from './chain.js';
import type { PayoutParts } from './context.js';
import { movePayouts } from './state.js';

/** `signed → sent`: stored transactions broadcast (again after a restart), lowest nonce first. */
export function createBroadcaster(common: Common, ctx: PayoutParts) {
  const { db, client } = ctx;
  const chainName = ctx.chain.name;
  const { logger } = common;

  async function broadcastRows(
    rows: Pick<PayoutRow, 'queue_id' | 'tx_hash' | 'state' | 'route'>[],
    head: number,
  ) {
    if (rows.length === 0) return;
    const txs = await signedTransactions(
      db,
      rows.map((r) => r.tx_hash!),
    );
    const raws = new Map(txs.map((t) => [t.tx_hash, t.raw_tx as Hex]));
    // Lower nonces first, so a node that refuses a nonce gap still takes them all.
    const position = new Map(txs.map((t, i) => [t.tx_hash, i]));
    const at = (hash: string | null) => position.get(hash!) ?? -1;
    const ordered = [...rows].sort((a, b) => at(a.tx_hash) - at(b.tx_hash));
    const outcomes = await Promise.all(ordered.map((r) => broadcast(client, raws.get(r.tx_hash!)!)));
    const sent: Pick<PayoutRow, 'queue_id' | 'tx_hash'>[] = [];
    for (const [i, outcome] of outcomes.entries()) {
      const row = ordered[i]!;
      if (outcome.kind === 'retry') {
        // Still moved on to `sent`: from there the tracker sends it again, replaces it with higher fees, or
        // pays anew if another transaction took its nonce. Left `signed`, a transaction the node keeps
        // refusing would block every later nonce of its wallet for ever.
        logger.warn(
          { queueId: row.queue_id, txHash: row.tx_hash, reason: outcome.reason },
          'broadcast refused; the stored transaction will be sent again or replaced',
        );
      }
      if (row.state === 'signed') sent.push(row);
    }
    if (sent.length === 0) return;
    const hashOf = new Map(rows.map((r) => [r.queue_id, r.tx_hash]));
    const routeOf = new Map(rows.map((r) => [r.queue_id, r.route]));
    const moved = await ctx.write(
      sent.map((r) => routeOf.get(r.queue_id) ?? null),
      (trx) =>
        movePayouts(
          trx,
          chainName,
          sent,
          'signed',
          { to: 'sent', set: { last_sent_block: head } },
          (queueId) => ({
            txHash: hashOf.get(queueId) ?? null,
            blockNumber: head,
          }),
        ),
    );
    for (const _ of moved) common.metrics.payoutTransition('signed', 'sent');
  }

  async function broadcastSigned(head: number) {
    await broadcastRows(
      await payoutsInState(db, chainName, 'signed', common.options.payouts.broadcastPerPass, ctx.routes()),
      head,
    );
  }

  /**
   * Once its wallets are taken (at start, or over from an instance that died): everything of theirs in
   * flight is sent again from the stored transactions, never signed anew.
   */
  async function recover(head: number, wallets: readonly string[]) {
    const rows = await payoutsInState(db, chainName, 'sent', undefined, wallets);
    if (rows.length)
      logger.info(
        { count: rows.length, wallets: wallets.length },
        'sending in-flight payouts of wallets taken',
      );
    await broadcastRows(rows, head);
  }

  return { broadcastRows, broadcastSigned, recover };
}
