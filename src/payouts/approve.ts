import type { Config } from '../config/types.js';
import { readHistory } from '../store/repos/audit.js';
import { payoutByQueueId } from '../store/repos/payouts.js';
import type { Db, PayoutRow } from '../store/schema.js';
import { type FeeCoin, failure, payoutResponse } from './respond.js';
import { movePayout } from './state.js';

/**
 * The operator's word on a payout `held` by its chain's approval threshold (policies.ts): `approve`
 * moves it to `accepted`, where its chain's engine pays it as any other (it picks it up within its poll
 * interval: the command cannot wake the service); `reject` fails it with its one answer, `status 0`
 * `rejected`, written with the state. Both audited (`approvedBy` / `rejectedBy: operator`). Both
 * idempotent: the same word again says so and changes nothing; the other word after one was given is
 * refused.
 */

export interface ApprovalDeps {
  db: Db;
  /** The configured chains: the payout's own gives the decimals of the answer's fee (0). */
  chains: readonly ({ name: string } & FeeCoin)[];
  rmq: Config['rmq'];
  /** Needed to sign a rejection's answer. */
  signKey: string;
}

export type Approval = { approve: true } | { reject: string | undefined };

/** What the command prints, and whether it changed anything. */
export interface ApprovalOutcome {
  line: string;
  changed: boolean;
}

/** A word the operator gave that cannot be carried out (exit 1, one line). */
export class ApprovalError extends Error {
  override name = 'ApprovalError';
}

/** The operator's word already given on a payout that was held: from its audit trail. */
async function earlierWord(db: Db, queueId: string): Promise<'approved' | 'rejected' | undefined> {
  const history = await readHistory(db, { queueId });
  const left = history.find((h) => h.from_state === 'held');
  if (!left) return undefined;
  return left.to_state === 'accepted' ? 'approved' : 'rejected';
}

async function explainNotHeld(db: Db, row: PayoutRow, word: 'approve' | 'reject'): Promise<ApprovalOutcome> {
  const earlier = await earlierWord(db, row.queue_id);
  const wanted = word === 'approve' ? 'approved' : 'rejected';
  if (earlier === wanted) {
    return {
      line: `payout ${row.queue_id} was already ${wanted} (now ${row.state}): nothing changed`,
      changed: false,
    };
  }
  if (earlier) {
    throw new ApprovalError(
      `payout ${row.queue_id} was ${earlier} already (now ${row.state}): it cannot be ${wanted}`,
    );
  }
  throw new ApprovalError(
    `payout ${row.queue_id} is ${row.state}, not held for approval: there is nothing to ${word}`,
  );
}

export async function decideHeldPayout(
  deps: ApprovalDeps,
  queueId: string,
  approval: Approval,
): Promise<ApprovalOutcome> {
  const word = 'approve' in approval ? 'approve' : 'reject';
  const row = await payoutByQueueId(deps.db, queueId);
  if (!row) throw new ApprovalError(`no payout with queue_id ${queueId}`);
  if (row.state !== 'held') return explainNotHeld(deps.db, row, word);
  const now = Date.now();
  let moved: boolean;
  let line: string;
  if ('approve' in approval) {
    moved = await deps.db
      .transaction()
      .execute((trx) =>
        movePayout(trx, row, { to: 'accepted', audit: { detail: { approvedBy: 'operator' } } }, now),
      );
    line = `payout ${queueId} approved: ${row.amount_text} ${row.symbol} to ${row.to_address} on ${row.chain_name} will be paid`;
  } else {
    const reason = approval.reject?.trim() || 'rejected by the operator';
    const chain = deps.chains.find((c) => c.name === row.chain_name) ?? { native: { decimals: 18 } };
    const answer = payoutResponse(deps.rmq, deps.signKey, row, failure('rejected', reason), chain);
    moved = await deps.db.transaction().execute((trx) =>
      movePayout(
        trx,
        row,
        {
          to: 'failed',
          set: { error_code: 'rejected', error_message: reason.slice(0, 1000) },
          audit: { detail: { rejectedBy: 'operator', reason } },
          answer,
        },
        now,
      ),
    );
    line = `payout ${queueId} rejected: answered status 0 (rejected)`;
  }
  if (moved) return { line, changed: true };
  // Someone else's word came first (another run of the command): report what it was.
  const now2 = await payoutByQueueId(deps.db, queueId);
  if (!now2 || now2.state === 'held') {
    throw new ApprovalError(`payout ${queueId} changed while deciding on it: run the command again`);
  }
  return explainNotHeld(deps.db, now2, word);
}
