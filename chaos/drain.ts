/**
 * What a run still waits for once the faults stop: answers the chain calls for that have not come yet.
 */
import type { ReceivedMessage } from '../test/helpers/rabbit.js';
import type { DepositTx, TransferLog } from './chain.js';
import type { BadMessage } from './malformed.js';
import type { PayoutRequest } from './verify.js';

export interface Unanswered {
  /** Payouts (and signed bad requests) without an answer yet. */
  missingPayouts: number;
  /** Canonical deposits without a `status 1`, removed ones with a `status 2` but no `status 0`. */
  missingDeposits: number;
}

export function unanswered(input: {
  payouts: readonly PayoutRequest[];
  bad: readonly BadMessage[];
  deposits: Iterable<DepositTx>;
  transfers: readonly TransferLog[];
  answers: { topup: ReceivedMessage[]; withdraw: ReceivedMessage[]; pay: ReceivedMessage[] };
}): Unanswered {
  const ids = new Set<string>();
  for (const m of [...input.answers.withdraw, ...input.answers.pay])
    ids.add(String((m.json as { queue_id?: unknown })?.queue_id));
  const wanted = [
    ...input.payouts.map((p) => p.queueId),
    ...input.bad.flatMap((b) => ('answerId' in b.expect ? [b.expect.answerId] : [])),
  ];
  const truth = new Set(input.transfers.map((t) => `${t.txHash} ${t.to}`));
  const statuses = new Map<string, Set<number>>();
  for (const m of input.answers.topup) {
    const j = m.json as { tx_hash?: string; address?: string; status?: number };
    const key = `${j.tx_hash?.toLowerCase()} ${j.address?.toLowerCase()}`;
    statuses.set(key, (statuses.get(key) ?? new Set()).add(Number(j.status)));
  }
  let missingDeposits = 0;
  for (const d of input.deposits) {
    const key = `${d.hash.toLowerCase()} ${d.to.toLowerCase()}`;
    const got = statuses.get(key) ?? new Set<number>();
    if (truth.has(key) ? !got.has(1) : got.has(2) && !got.has(0)) missingDeposits++;
  }
  return { missingPayouts: wanted.filter((id) => !ids.has(id)).length, missingDeposits };
}
