import type { PublicClient } from 'viem';
import { createPayoutClient } from '../chain/payout-client.js';
import type { ChainConfig, Config } from '../config/types.js';
import { payoutByQueueId } from '../store/repos/payouts.js';
import type { Db } from '../store/schema.js';
import { releaseBatchMembers, settleBatchMembers } from './batch-settle.js';
import { getReceipt, minedTransactionPays } from './chain.js';
import { failure, payoutResponse } from './respond.js';
import { movePayout } from './state.js';

export type Resolution = { paid: string } | { failed: string };

/** What resolving needs of a configured chain. */
export type ResolveChain = Pick<ChainConfig, 'name' | 'rpcUrl' | 'native'>;

export interface ResolveDeps {
  db: Db;
  /**
   * The configured chains: the payout's own (by its `chain_name`) gives the node a `paid` transaction is
   * checked on and the decimals of the fee in the answer.
   */
  chains: readonly ResolveChain[];
  /** The node client of a chain; by default one on its `rpcUrl`. */
  clientOf?: (chain: ResolveChain) => PublicClient;
  rmq: Config['rmq'];
  signKey: string;
}

/**
 * The operator's word on an `unresolved` payout (its nonce was used and the node did not show by which
 * transaction): `paid` names the transaction that paid it, which must be on chain, successful, from the
 * payout's sender and carry the token's Transfer to the recipient (for the native coin: be a transfer of
 * the amount to the recipient), on the payout's chain; `failed` says it was not paid, with a
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
  const chain = deps.chains.find((c) => c.name === row.chain_name);
  if (!chain) {
    const known = deps.chains.map((c) => c.name).join(', ');
    throw new ResolveError(
      `payout ${queueId} is on the chain ${row.chain_name}, which the config does not have (it has ${known})`,
    );
  }
  const now = Date.now();
  if ('failed' in resolution) {
    const outcome = failure('not_paid', resolution.failed);
    const answer = payoutResponse(deps.rmq, deps.signKey, row, outcome, chain);
    const moved = await deps.db.transaction().execute(async (trx) => {
      const done = await movePayout(
        trx,
        row,
        {
          to: 'failed',
          set: { error_code: 'not_paid', error_message: resolution.failed.slice(0, 1000) },
          audit: { txHash: row.tx_hash, detail: { resolvedBy: 'operator', reason: resolution.failed } },
          answer,
        },
        now,
      );
      // A batch that paid nobody: its payouts are paid again, one by one.
      if (done && row.kind === 'batch') await releaseBatchMembers(trx, row, 'not_paid', now);
      return done;
    });
    if (!moved) throw new ResolveError(`payout ${queueId} changed while resolving it: run the command again`);
    return `payout ${queueId} failed (not_paid): answered status 0`;
  }
  const hash = resolution.paid.toLowerCase();
  const client = deps.clientOf?.(chain) ?? createPayoutClient(chain.rpcUrl);
  const receipt = await getReceipt(client, hash);
  if (!receipt) {
    throw new ResolveError(
      `the node of ${chain.name} has no receipt for ${hash}: is it mined, on this chain?`,
    );
  }
  const pays = await minedTransactionPays(client, receipt, {
    token: row.token_address,
    sender: row.sender ?? '',
    to: row.to_address,
    amountRaw: BigInt(row.amount_raw),
    call: row.call_data !== null,
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
  const answer = payoutResponse(deps.rmq, deps.signKey, { ...row, ...mined }, { status: 1 }, chain);
  const moved = await deps.db.transaction().execute(async (trx) => {
    const done = await movePayout(
      trx,
      row,
      {
        to: 'confirmed',
        set: mined,
        audit: { txHash: hash, blockNumber: mined.mined_block, detail: { resolvedBy: 'operator' } },
        answer,
      },
      now,
    );
    if (done && row.kind === 'batch') {
      await settleBatchMembers(trx, { ...deps, chain }, { ...row, ...mined }, receipt, 'confirmed', now);
    }
    return done;
  });
  if (!moved) throw new ResolveError(`payout ${queueId} changed while resolving it: run the command again`);
  return `payout ${queueId} confirmed by ${hash} (block ${mined.mined_block}): answered status 1`;
}

/** A resolution the operator asked for that cannot be carried out (exit 1, one line). */
export class ResolveError extends Error {
  override name = 'ResolveError';
}
