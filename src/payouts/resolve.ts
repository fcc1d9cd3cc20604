import type { PublicClient } from 'viem';
import type { Config } from '../config/types.js';
import { payoutByQueueId } from '../store/repos/payouts.js';
import type { Db } from '../store/schema.js';
import { getReceipt, receiptPays } from './chain.js';
import { failure, payoutResponse } from './respond.js';
import { movePayout } from './state.js';

export type Resolution = { paid: string } | { failed: string };

export interface ResolveDeps {
  db: Db;
  /** The chain's node, to check a `paid` transaction. */
  client: PublicClient;
  rmq: Config['rmq'];
  signKey: string;
}

/**
 * The operator's word on an `unresolved` payout (its nonce was used and the node did not show by which
 * transaction): `paid` names the transaction that paid it, which must be on chain, successful, from the
 * payout's sender and carry the token's Transfer to the recipient; `failed` says it was not paid, with a
 * reason. Either way the business gets its one answer, written with the final state. Resolves a line for
 * the operator; throws what the operator must fix.
 */
export async function resolvePayout(
  deps: ResolveDeps,
  queueId: string,
  resolution: Resolution,
): Promise<string> {
  const row = await payoutByQueueId(deps.db, queueId);
  if (!row) throw new ResolveError(`no payout with queue_id ${queueId}`);
  if (row.state !== 'unresolved') {
    throw new ResolveError(`payout ${queueId} is ${row.state}, not unresolved: there is nothing to resolve`);
  }
  const now = Date.now();
  if ('failed' in resolution) {
    const outcome = failure('not_paid', resolution.failed);
    const answer = payoutResponse(deps.rmq, deps.signKey, row, outcome);
    const moved = await deps.db.transaction().execute((trx) =>
      movePayout(
        trx,
        row,
        {
          to: 'failed',
          set: { error_code: 'not_paid', error_message: resolution.failed.slice(0, 1000) },
          audit: { txHash: row.tx_hash, detail: { resolvedBy: 'operator', reason: resolution.failed } },
          answer,
        },
        now,
      ),
    );
    if (!moved) throw new ResolveError(`payout ${queueId} changed while resolving it: run the command again`);
    return `payout ${queueId} failed (not_paid): answered status 0`;
  }
  const hash = resolution.paid.toLowerCase();
  const receipt = await getReceipt(deps.client, hash);
  if (!receipt) throw new ResolveError(`the node has no receipt for ${hash}: is it mined, on this chain?`);
  const pays =
    BigInt(receipt.status) === 1n &&
    receiptPays(receipt, {
      token: row.token_address,
      sender: row.sender ?? '',
      to: row.to_address,
      amountRaw: BigInt(row.amount_raw),
    });
  if (!pays) {
    throw new ResolveError(
      `transaction ${hash} does not transfer ${row.amount_text} ${row.symbol} from ${row.sender} to ${row.to_address}`,
    );
  }
  const mined = {
    tx_hash: hash,
    mined_block: Number(BigInt(receipt.blockNumber)),
    mined_block_hash: receipt.blockHash.toLowerCase(),
    fee_wei: (BigInt(receipt.gasUsed) * BigInt(receipt.effectiveGasPrice ?? '0x0')).toString(),
    reverted: 0,
  };
  const answer = payoutResponse(deps.rmq, deps.signKey, { ...row, ...mined }, { status: 1 });
  const moved = await deps.db.transaction().execute((trx) =>
    movePayout(
      trx,
      row,
      {
        to: 'confirmed',
        set: mined,
        audit: { txHash: hash, blockNumber: mined.mined_block, detail: { resolvedBy: 'operator' } },
        answer,
      },
      now,
    ),
  );
  if (!moved) throw new ResolveError(`payout ${queueId} changed while resolving it: run the command again`);
  return `payout ${queueId} confirmed by ${hash} (block ${mined.mined_block}): answered status 1`;
}

/** A resolution the operator asked for that cannot be carried out (exit 1, one line). */
export class ResolveError extends Error {
  override name = 'ResolveError';
}
