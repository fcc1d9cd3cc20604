/**
 * The invariants of a run, checked against chain truth (the canonical chain's Transfer logs, read from
 * anvil directly) and every answer the business received.
 *
 * Duplicates (PROTOCOL §11.2): a copy with the same message-id and the same body is the documented
 * redelivery window; it is counted as `redelivered` and is not a failure (the business dedupes by
 * message-id / queue_id). Two answers for one subject and status that differ in body or message-id
 * are two outbox rows: a `duplicate_answers` failure. Two different statuses where one is allowed are
 * `wrong_answers` (or `false_credits`).
 */
import type { Address } from 'viem';
import { isJsonObject, parseJsonLossless } from '../src/protocol/json.js';
import { verifySignature } from '../src/protocol/sign.js';
import type { ReceivedMessage } from '../test/helpers/rabbit.js';
import type { DepositTx, TransferLog } from './chain.js';
import type { BadMessage, RequestRole } from './malformed.js';
import { batchFailureFigures } from './verify-batches.js';
import { sweepFailureFigures } from './verify-sweeps.js';

export interface PayoutRequest {
  queueId: string;
  role: 'withdraw' | 'pay';
  /** Pay requests: the order_id sent, echoed in the answer. */
  orderId?: string;
  from: Address;
  to: Address;
  raw: bigint;
}

export interface VerifyInput {
  signKey: string;
  decimals: number;
  payouts: PayoutRequest[];
  deposits: DepositTx[];
  bad: BadMessage[];
  answers: { topup: ReceivedMessage[]; withdraw: ReceivedMessage[]; pay: ReceivedMessage[] };
  /** Canonical Transfer logs since the token was deployed. */
  transfers: TransferLog[];
  /** Messages in each `<request queue>.dlq` and left in each request queue, after the service stopped. */
  dlq: Record<RequestRole, number>;
  leftInQueue: Record<RequestRole, number>;
  /** Exits of the service that the run did not cause. */
  crashes: { pid: number | undefined; code: number | null; signal: string | null; lastLines: string[] }[];
}

/** The figures that must be 0 (with verify-sweeps.ts's and verify-batches.ts's). */
export const failureFigures = [
  'double_sends',
  'missing_answers',
  'duplicate_answers',
  'wrong_answers',
  'false_credits',
  'missed_deposits',
  'unsigned_answers',
  'out_of_order',
  'lost_messages',
  'crashes',
  ...sweepFailureFigures,
  ...batchFailureFigures,
] as const;

export interface Verdict {
  figures: Record<string, number>;
  passed: number;
  failed: number;
  /** One line per failed check, with its evidence (queue_id, tx hash, …). */
  failures: string[];
}

interface Answer {
  msg: Record<string, unknown>;
  text: string;
  messageId: string;
  /** Arrival order across the queue. */
  seq: number;
}

const str = (v: unknown) => (v === undefined || v === null ? '' : String(v));

/** "100.5" (the exact decimal of a response) → base units; undefined when it is not one. */
export function toBaseUnits(text: string, decimals: number): bigint | undefined {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return undefined;
  const frac = m[2] ?? '';
  if (frac.length > decimals) return undefined;
  return (
    BigInt(m[1]!) * 10n ** BigInt(decimals) + BigInt((frac + '0'.repeat(decimals)).slice(0, decimals) || '0')
  );
}

export function verify(input: VerifyInput): Verdict {
  const figures: Record<string, number> = Object.fromEntries(failureFigures.map((f) => [f, 0]));
  for (const f of [
    'redelivered',
    'payouts_paid',
    'payouts_refused',
    'deposits_canonical',
    'deposits_removed',
    'removed_unseen',
  ])
    figures[f] = 0;
  const failures: string[] = [];
  let passed = 0;
  const check = (ok: boolean, figure: string | undefined, what: string) => {
    if (ok) {
      passed++;
      return;
    }
    if (figure) figures[figure] = (figures[figure] ?? 0) + 1;
    failures.push(what);
  };

  // Every answer: parsed and its signature checked.
  const parse = (list: ReceivedMessage[], queue: string): Answer[] => {
    let unsigned = 0;
    const out: Answer[] = [];
    list.forEach((m, seq) => {
      let msg: unknown;
      try {
        msg = parseJsonLossless(m.text);
      } catch {
        msg = undefined;
      }
      if (!isJsonObject(msg) || !verifySignature(msg, input.signKey)) {
        unsigned++;
        failures.push(`unsigned answer on ${queue}: ${m.text.slice(0, 200)}`);
      }
      if (isJsonObject(msg)) out.push({ msg, text: m.text, messageId: str(m.properties.messageId), seq });
    });
    figures.unsigned_answers = (figures.unsigned_answers ?? 0) + unsigned;
    if (unsigned === 0) passed++;
    return out;
  };
  const topup = parse(input.answers.topup, 'topup_resp');
  const withdraw = parse(input.answers.withdraw, 'withdraw_resp');
  const pay = parse(input.answers.pay, 'pay_resp');

  /** Copies of one answer: distinct (message-id, body) pairs and how many identical copies beyond them. */
  const distinct = (list: Answer[]) => {
    const keys = new Map<string, Answer>();
    for (const a of list)
      if (!keys.has(`${a.messageId}\n${a.text}`)) keys.set(`${a.messageId}\n${a.text}`, a);
    figures.redelivered = (figures.redelivered ?? 0) + list.length - keys.size;
    return [...keys.values()];
  };

  const transfersTo = new Map<string, TransferLog[]>();
  for (const t of input.transfers) transfersTo.set(t.to, [...(transfersTo.get(t.to) ?? []), t]);
  const amountOf = (a: Answer) => toBaseUnits(str(a.msg.amount), input.decimals);

  // Payouts: one answer each; status 1 ⇔ exactly one Transfer to the recipient, of its amount, in the answered tx.
  const payoutAnswers = new Map<string, { role: 'withdraw' | 'pay'; answer: Answer }[]>();
  for (const [role, list] of [
    ['withdraw', withdraw],
    ['pay', pay],
  ] as const)
    for (const answer of list) {
      const id = str(answer.msg.queue_id);
      payoutAnswers.set(id, [...(payoutAnswers.get(id) ?? []), { role, answer }]);
    }
  const known = new Set<string>();
  for (const p of input.payouts) {
    known.add(p.queueId);
    const got = payoutAnswers.get(p.queueId) ?? [];
    const copies = distinct(got.map((g) => g.answer));
    const paid = transfersTo.get(p.to.toLowerCase()) ?? [];
    const where = `payout ${p.queueId} (${p.role}) to ${p.to}`;
    check(
      paid.length <= 1,
      'double_sends',
      `${where}: paid ${paid.length} times: ${paid.map((t) => t.txHash).join(' ')}`,
    );
    if (copies.length === 0) {
      check(
        false,
        'missing_answers',
        `${where}: no answer; transfers ${paid.map((t) => t.txHash).join(' ') || 'none'}`,
      );
      continue;
    }
    check(
      copies.length === 1,
      'duplicate_answers',
      `${where}: ${copies.length} different answers: ${copies.map((c) => `${c.messageId} ${c.text}`).join(' | ')}`,
    );
    check(
      got.every((g) => g.role === p.role),
      'wrong_answers',
      `${where}: answered on the other queue`,
    );
    check(
      copies.every((c) => str(c.msg.order_id) === (p.orderId ?? '')),
      'wrong_answers',
      `${where}: order_id ${copies.map((c) => str(c.msg.order_id)).join(',')} in the answer, ${p.orderId ?? 'none'} sent`,
    );
    const answer = copies[0]!;
    const status = Number(str(answer.msg.status));
    if (status === 1) {
      figures.payouts_paid = (figures.payouts_paid ?? 0) + 1;
      const t = paid[0];
      check(
        paid.length === 1 &&
          t !== undefined &&
          t.value === p.raw &&
          t.txHash === str(answer.msg.tx_hash).toLowerCase() &&
          t.from === str(answer.msg.from_address).toLowerCase() &&
          amountOf(answer) === p.raw,
        'wrong_answers',
        `${where}: answered 1 with tx ${str(answer.msg.tx_hash)} amount ${str(answer.msg.amount)}, chain has ${paid.map((x) => `${x.txHash}:${x.value}`).join(' ') || 'no transfer'}`,
      );
    } else {
      figures.payouts_refused = (figures.payouts_refused ?? 0) + 1;
      check(
        status === 0 && paid.length === 0,
        'wrong_answers',
        `${where}: answered ${status} (${str(answer.msg.error)}) but chain has ${paid.map((x) => x.txHash).join(' ') || 'no transfer'}`,
      );
    }
  }

  // Bad requests: each either dead-lettered or answered status 0 exactly once, never paid.
  const dlqExpected: Record<RequestRole, number> = { topup: 0, withdraw: 0, pay: 0 };
  for (const b of input.bad) {
    if ('dlq' in b.expect) {
      dlqExpected[b.role]++;
      continue;
    }
    const id = b.expect.answerId;
    known.add(id);
    const copies = distinct((payoutAnswers.get(id) ?? []).map((g) => g.answer));
    const where = `bad request ${id} (${b.kind} on ${b.role})`;
    if (copies.length === 0) check(false, 'missing_answers', `${where}: no answer`);
    else
      check(
        copies.length === 1 && str(copies[0]!.msg.status) === '0',
        copies.length === 1 ? 'wrong_answers' : 'duplicate_answers',
        `${where}: ${copies.map((c) => c.text).join(' | ')}`,
      );
  }
  for (const role of ['topup', 'withdraw', 'pay'] as const) {
    check(
      input.dlq[role] >= dlqExpected[role],
      'lost_messages',
      `${role}.dlq holds ${input.dlq[role]} messages, ${dlqExpected[role]} were dead-letter material`,
    );
    check(
      input.leftInQueue[role] === 0,
      'lost_messages',
      `${role} request queue still holds ${input.leftInQueue[role]}`,
    );
  }
  for (const [id, list] of payoutAnswers)
    if (!known.has(id))
      check(false, 'wrong_answers', `an answer for queue_id ${id} nobody asked for: ${list[0]?.answer.text}`);

  // Deposits: canonical → one status 2 then one status 1 with the right amount and block; replaced → never 1,
  // and status 0 once the service had said 2.
  const byDeposit = new Map<string, Answer[]>();
  for (const a of topup) {
    const key = `${str(a.msg.tx_hash).toLowerCase()} ${str(a.msg.address).toLowerCase()}`;
    byDeposit.set(key, [...(byDeposit.get(key) ?? []), a]);
  }
  const canonical = new Map<string, TransferLog>();
  for (const t of input.transfers) canonical.set(`${t.txHash} ${t.to}`, t);
  const mine = new Set<string>();
  for (const d of input.deposits) {
    const key = `${d.hash.toLowerCase()} ${d.to.toLowerCase()}`;
    mine.add(key);
    const got = byDeposit.get(key) ?? [];
    const s = (status: string) => distinct(got.filter((a) => str(a.msg.status) === status));
    const [s2, s1, s0] = [s('2'), s('1'), s('0')];
    const truth = canonical.get(key);
    const where = `deposit ${d.hash} to ${d.to} (${d.raw} units, moved ${d.moved}x${d.replaced ? ', replaced' : ''})`;
    for (const [list, status] of [
      [s2, 2],
      [s1, 1],
      [s0, 0],
    ] as const)
      check(
        list.length <= 1,
        'duplicate_answers',
        `${where}: ${list.length} different status ${status}: ${list.map((c) => `${c.messageId} ${c.text}`).join(' | ')}`,
      );
    check(
      s2.every((a) => amountOf(a) === d.raw),
      'wrong_answers',
      `${where}: status 2 with amount ${s2.map((a) => str(a.msg.amount)).join(',')}`,
    );
    if (truth) {
      figures.deposits_canonical = (figures.deposits_canonical ?? 0) + 1;
      check(
        s2.length >= 1 && s1.length >= 1,
        'missed_deposits',
        `${where}: in block ${truth.blockNumber}, got status 2 ×${s2.length}, 1 ×${s1.length}, 0 ×${s0.length}`,
      );
      check(
        s0.length === 0,
        'wrong_answers',
        `${where}: in block ${truth.blockNumber} but answered status 0`,
      );
      const first = s1[0];
      if (first)
        check(
          amountOf(first) === truth.value &&
            Number(str(first.msg.block_height)) === truth.blockNumber &&
            Number(str(first.msg.log_index)) === truth.logIndex,
          amountOf(first) === truth.value ? 'wrong_answers' : 'false_credits',
          `${where}: status 1 says ${str(first.msg.amount)} in block ${str(first.msg.block_height)} log ${str(first.msg.log_index)}, chain has ${truth.value} in ${truth.blockNumber} log ${truth.logIndex}`,
        );
      const firstTwo = got.find((a) => str(a.msg.status) === '2');
      const firstOne = got.find((a) => str(a.msg.status) === '1');
      if (firstTwo && firstOne)
        check(
          firstTwo.seq < firstOne.seq,
          'out_of_order',
          `${where}: status 1 (${firstOne.messageId}) arrived before status 2 (${firstTwo.messageId})`,
        );
    } else {
      figures.deposits_removed = (figures.deposits_removed ?? 0) + 1;
      check(
        s1.length === 0,
        'false_credits',
        `${where}: not on the canonical chain but answered status 1: ${s1[0]?.text}`,
      );
      if (s2.length === 0 && s0.length === 0) figures.removed_unseen = (figures.removed_unseen ?? 0) + 1;
      else
        check(
          s0.length === 1,
          'missing_answers',
          `${where}: not on the canonical chain, got status 2 but no status 0`,
        );
      const firstTwo = got.find((a) => str(a.msg.status) === '2');
      const firstZero = got.find((a) => str(a.msg.status) === '0');
      if (firstTwo && firstZero)
        check(firstTwo.seq < firstZero.seq, 'out_of_order', `${where}: status 0 arrived before status 2`);
    }
  }
  for (const [key, list] of byDeposit)
    if (!mine.has(key)) {
      const credited = list.some((a) => str(a.msg.status) === '1');
      check(
        false,
        credited ? 'false_credits' : 'wrong_answers',
        `a deposit answer for ${key} that no deposit explains: ${list[0]?.text}`,
      );
    }

  for (const c of input.crashes)
    check(
      false,
      'crashes',
      `service ${c.pid} exited by itself (code ${c.code}, signal ${c.signal}); last lines:\n    ${c.lastLines.join('\n    ')}`,
    );
  if (input.crashes.length === 0) passed++;

  return { figures, passed, failed: failures.length, failures };
}
