import type { Hex } from 'viem';
import { recordAudit } from '../audit/record.js';
import { driverOf } from '../store/dialect.js';
import type { PayoutRow } from '../store/schema.js';
import { broadcast } from './chain.js';
import type { EngineContext } from './context.js';

/** `signed → sent`: stored transactions broadcast (again after a restart), lowest nonce first. */
export function createBroadcaster(ctx: EngineContext) {
  const { db, client, logger, options } = ctx;

  // ---- signed → sent ----------------------------------------------------------------------------

  async function broadcastRows(rows: Pick<PayoutRow, 'queue_id' | 'tx_hash' | 'state'>[], head: number) {
    if (rows.length === 0) return;
    const txs = await db
      .selectFrom('payout_txs')
      .select(['tx_hash', 'raw_tx', 'sender', 'nonce'])
      .where(
        'tx_hash',
        'in',
        rows.map((r) => r.tx_hash!),
      )
      .orderBy('sender')
      .orderBy('nonce')
      .execute();
    const raws = new Map(txs.map((t) => [t.tx_hash, t.raw_tx as Hex]));
    // Lower nonces first, so a node that refuses a nonce gap still takes them all.
    const position = new Map(txs.map((t, i) => [t.tx_hash, i]));
    const at = (hash: string | null) => position.get(hash!) ?? -1;
    const ordered = [...rows].sort((a, b) => at(a.tx_hash) - at(b.tx_hash));
    const outcomes = await Promise.all(ordered.map((r) => broadcast(client, raws.get(r.tx_hash!)!)));
    const now = Date.now();
    const sent: string[] = [];
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
      if (row.state === 'signed') sent.push(row.queue_id);
    }
    const hashOf = new Map(rows.map((r) => [r.queue_id, r.tx_hash]));
    const moved: string[] = [];
    for (let i = 0; i < sent.length; i += 500) {
      const chunk = sent.slice(i, i + 500);
      await db.transaction().execute(async (trx) => {
        // The rows still `signed`, locked on MySQL until the update: exactly those get an audit entry.
        const select = trx
          .selectFrom('payouts')
          .select('queue_id')
          .where('queue_id', 'in', chunk)
          .where('state', '=', 'signed');
        const still = (await (driverOf(trx) === 'mysql' ? select.forUpdate() : select).execute()).map(
          (r) => r.queue_id,
        );
        if (still.length === 0) return;
        await trx
          .updateTable('payouts')
          .set({ state: 'sent', last_sent_block: head, updated_at: now })
          .where('queue_id', 'in', still)
          .where('state', '=', 'signed')
          .execute();
        await recordAudit(
          trx,
          still.map((queueId) => ({
            subject: 'payout',
            ref: queueId,
            txHash: hashOf.get(queueId) ?? null,
            fromState: 'signed',
            toState: 'sent',
            blockNumber: head,
          })),
          now,
        );
        moved.push(...still);
      });
    }
    for (const queueId of moved) options.onTransition?.('signed', 'sent', { queue_id: queueId });
  }

  async function broadcastSigned(head: number) {
    const rows = await db
      .selectFrom('payouts')
      .select(['queue_id', 'tx_hash', 'state'])
      .where('state', '=', 'signed')
      .orderBy('created_at')
      .limit(1_000)
      .execute();
    await broadcastRows(rows, head);
  }

  /** After a restart: everything in flight is sent again from the stored transactions (never signed anew). */
  async function recover(head: number) {
    const rows = await db
      .selectFrom('payouts')
      .select(['queue_id', 'tx_hash', 'state'])
      .where('state', '=', 'sent')
      .execute();
    if (rows.length) logger.info({ count: rows.length }, 'sending in-flight payouts again after start');
    await broadcastRows(rows, head);
  }

  return { broadcastRows, broadcastSigned, recover };
}
