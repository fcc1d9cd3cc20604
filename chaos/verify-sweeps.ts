/**
 * The invariants of sweeping in a run (docs/TREASURY.md §4), checked against the canonical chain, the
 * service's database and every answer the business received:
 *
 * - a wallet is topped up again only after a sweep of it ended (`double_topups`);
 * - each treasury payout has at most one transaction on the chain, and every treasury transaction on the
 *   chain is one the service signed for a payout that says so (`treasury_double_sends`);
 * - the service's own transfers are answered to nobody (`treasury_answers`) and are never a deposit
 *   (`treasury_deposits`);
 * - token conservation, exact: each issued wallet holds its deposits less its confirmed sweeps, the
 *   collection wallet its start plus the sweeps less what it paid, and each confirmed sweep or top-up is
 *   on the chain as recorded (`unbalanced`);
 * - the workload swept: at least one confirmed sweep, and no wallet left at or above `minAmount` once the
 *   run is at rest (`sweeps_missing`).
 */
import type { Address } from 'viem';
import { isJsonObject, parseJsonLossless } from '../src/protocol/json.js';
import type { ReceivedMessage } from '../test/helpers/rabbit.js';
import type { DepositTx, TransferLog } from './chain.js';
import type { TreasuryChainTx, TreasuryRecords } from './sweeps.js';
import type { PayoutRequest, Verdict } from './verify.js';

export const sweepFailureFigures = [
  'double_topups',
  'treasury_double_sends',
  'treasury_answers',
  'treasury_deposits',
  'unbalanced',
  'sweeps_missing',
] as const;

export interface SweepVerifyInput {
  /** The issued deposit wallets, lowercase. */
  wallets: Address[];
  /** The collection wallet (also the gas wallet), lowercase. */
  collection: Address;
  /** The smallest balance a round sweeps. */
  minAmountRaw: bigint;
  records: TreasuryRecords;
  chainTxs: TreasuryChainTx[];
  /** Canonical Transfer logs of the token since the setup. */
  transfers: TransferLog[];
  deposits: DepositTx[];
  payouts: PayoutRequest[];
  answers: { topup: ReceivedMessage[]; withdraw: ReceivedMessage[]; pay: ReceivedMessage[] };
  /** Token balances at the end, by lowercase address (the wallets and the collection wallet). */
  balances: Map<string, bigint>;
  collectionStart: bigint;
  /** When the faults stopped (ms since the epoch): sweeps stored before it were planned under them. */
  faultsOverAt: number;
}

const str = (v: unknown) => (v === undefined || v === null ? '' : String(v));
const isTreasuryId = (id: string) => id.startsWith('sweep:') || id.startsWith('gas_topup:');

function parsed(list: ReceivedMessage[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const m of list) {
    try {
      const msg = parseJsonLossless(m.text);
      if (isJsonObject(msg)) out.push(msg);
    } catch {
      // verify.ts counts it as unsigned
    }
  }
  return out;
}

export function verifySweeps(input: SweepVerifyInput): Verdict {
  const figures: Record<string, number> = Object.fromEntries(sweepFailureFigures.map((f) => [f, 0]));
  const failures: string[] = [];
  let passed = 0;
  const check = (ok: boolean, figure: (typeof sweepFailureFigures)[number], what: () => string) => {
    if (ok) {
      passed++;
      return;
    }
    figures[figure] = (figures[figure] ?? 0) + 1;
    failures.push(what());
  };
  const { records, collection } = input;
  const walletOf = (p: { kind: string; from_address: string; to_address: string }) =>
    p.kind === 'gas_topup' ? p.to_address.toLowerCase() : p.from_address.toLowerCase();
  const payoutById = new Map(records.payouts.map((p) => [p.queue_id, p]));
  const confirmed = records.payouts.filter((p) => p.state === 'confirmed');
  const sweeps = confirmed.filter((p) => p.kind === 'sweep');
  const topUps = confirmed.filter((p) => p.kind === 'gas_topup');

  // No double top-up: between two confirmed top-ups of a wallet, a sweep of it that ended.
  for (const wallet of input.wallets) {
    const history = records.payouts
      .filter((p) => walletOf(p) === wallet)
      .filter((p) =>
        p.kind === 'gas_topup' ? p.state === 'confirmed' : ['confirmed', 'failed'].includes(p.state),
      )
      .sort((a, b) => a.created_at - b.created_at);
    let lastTopUp: string | undefined;
    for (const p of history) {
      if (p.kind === 'sweep') lastTopUp = undefined;
      else {
        check(
          lastTopUp === undefined,
          'double_topups',
          () =>
            `wallet ${wallet}: top-up ${p.queue_id} confirmed after top-up ${lastTopUp} with no sweep between`,
        );
        lastTopUp = p.queue_id;
      }
    }
  }

  // At most one transaction on the chain per treasury payout; each one signed for a payout that says so.
  const mined = new Map<string, TreasuryChainTx[]>();
  for (const tx of input.chainTxs) {
    const id = records.txs.get(tx.hash);
    check(
      id !== undefined,
      'treasury_double_sends',
      () =>
        `tx ${tx.hash} from ${tx.from} to ${tx.to} (block ${tx.blockNumber}) is signed for no treasury payout`,
    );
    if (id === undefined) continue;
    mined.set(id, [...(mined.get(id) ?? []), tx]);
    const p = payoutById.get(id);
    const expected = tx.status === 'success' ? 'confirmed' : 'failed';
    check(
      p?.state === expected && (expected === 'confirmed') === (p?.reverted === 0),
      'treasury_double_sends',
      () =>
        `tx ${tx.hash} of ${id} is mined (${tx.status}) but the payout is ${p?.state} (reverted ${p?.reverted})`,
    );
  }
  for (const [id, txs] of mined)
    check(
      txs.length <= 1,
      'treasury_double_sends',
      () => `${id}: ${txs.length} transactions mined: ${txs.map((t) => t.hash).join(' ')}`,
    );

  // Answered to nobody. (Scans of every answer and deposit row count one passed check each.)
  const scan = (figure: (typeof sweepFailureFigures)[number], bad: string[]) => {
    if (bad.length === 0) passed++;
    figures[figure] = (figures[figure] ?? 0) + bad.length;
    failures.push(...bad);
  };
  scan(
    'treasury_answers',
    Object.entries(input.answers).flatMap(([queue, list]) =>
      parsed(list)
        .filter((msg) => isTreasuryId(str(msg.queue_id)) || payoutById.has(str(msg.queue_id)))
        .map(
          (msg) =>
            `an answer on ${queue}_resp for the treasury payout ${str(msg.queue_id)}: ${JSON.stringify(msg).slice(0, 200)}`,
        ),
    ),
  );

  // Never a deposit.
  const treasuryTx = new Set([...records.txs.keys(), ...input.chainTxs.map((t) => t.hash)]);
  scan('treasury_deposits', [
    ...records.depositTxs
      .filter((d) => treasuryTx.has(d.txHash))
      .map((d) => `deposit row (status ${d.status}) to ${d.to} for the treasury tx ${d.txHash}`),
    ...parsed(input.answers.topup)
      .filter((msg) => treasuryTx.has(str(msg.tx_hash).toLowerCase()))
      .map(
        (msg) =>
          `a deposit answer for the treasury tx ${str(msg.tx_hash)}: ${JSON.stringify(msg).slice(0, 200)}`,
      ),
  ]);

  // Each confirmed sweep and top-up is on the chain as recorded.
  const logsOf = new Map<string, TransferLog[]>();
  for (const t of input.transfers) logsOf.set(t.txHash, [...(logsOf.get(t.txHash) ?? []), t]);
  for (const p of confirmed) {
    const hash = str(p.tx_hash).toLowerCase();
    const tx = mined.get(p.queue_id)?.find((t) => t.hash === hash);
    const logs = logsOf.get(hash) ?? [];
    const ok =
      tx !== undefined &&
      (p.kind === 'gas_topup'
        ? tx.from === collection && tx.to === p.to_address.toLowerCase() && tx.value === BigInt(p.amount_raw)
        : logs.length === 1 &&
          logs[0]!.from === p.from_address &&
          logs[0]!.to === collection &&
          logs[0]!.value === BigInt(p.amount_raw));
    check(
      ok,
      'unbalanced',
      () =>
        `${p.queue_id} confirmed with tx ${hash} of ${p.amount_raw}, the chain has ${tx ? `${tx.from}→${tx.to} value ${tx.value}` : 'no such canonical tx'}, logs ${logs.map((l) => `${l.from}→${l.to}:${l.value}`).join(' ') || 'none'}`,
    );
  }

  // Token conservation, exact.
  const depositHashes = new Set(input.deposits.map((d) => d.hash.toLowerCase()));
  const sweptFrom = new Map<string, bigint>();
  for (const p of sweeps)
    sweptFrom.set(p.from_address, (sweptFrom.get(p.from_address) ?? 0n) + BigInt(p.amount_raw));
  let depositsToIssued = 0;
  for (const wallet of input.wallets) {
    let depositsIn = 0n;
    for (const t of input.transfers) {
      if (t.to !== wallet) continue;
      const deposit = depositHashes.has(t.txHash);
      if (deposit) {
        depositsIn += t.value;
        depositsToIssued++;
      }
      check(
        deposit,
        'unbalanced',
        () => `wallet ${wallet}: transfer ${t.txHash} of ${t.value} in is no deposit`,
      );
    }
    const out = sweptFrom.get(wallet) ?? 0n;
    const balance = input.balances.get(wallet) ?? 0n;
    check(
      balance === depositsIn - out,
      'unbalanced',
      () =>
        `wallet ${wallet}: holds ${balance}, deposits in ${depositsIn} − confirmed sweeps out ${out} = ${depositsIn - out}`,
    );
    check(
      balance < input.minAmountRaw,
      'sweeps_missing',
      () => `wallet ${wallet}: still holds ${balance} at rest (minAmount ${input.minAmountRaw})`,
    );
  }
  const sweptIn = sweeps.reduce((sum, p) => sum + BigInt(p.amount_raw), 0n);
  let paid = 0n;
  const paidBy = new Map<string, Record<string, unknown>>();
  for (const msg of [...parsed(input.answers.withdraw), ...parsed(input.answers.pay)])
    if (str(msg.status) === '1') paidBy.set(str(msg.queue_id), msg);
  for (const p of input.payouts) {
    const answer = paidBy.get(p.queueId);
    if (answer && str(answer.from_address).toLowerCase() === collection) paid += p.raw;
  }
  const collectionEnd = input.balances.get(collection) ?? 0n;
  check(
    collectionEnd === input.collectionStart + sweptIn - paid,
    'unbalanced',
    () =>
      `collection wallet ${collection}: holds ${collectionEnd}, start ${input.collectionStart} + confirmed sweeps ${sweptIn} − payouts it paid ${paid} = ${input.collectionStart + sweptIn - paid}`,
  );

  // The workload swept, or it proved nothing about sweeping.
  check(
    sweeps.length > 0 || depositsToIssued === 0,
    'sweeps_missing',
    () => `${depositsToIssued} deposits reached issued wallets but no sweep was confirmed`,
  );

  figures.issued_wallets = input.wallets.length;
  figures.deposits_to_issued = depositsToIssued;
  figures.swept = sweeps.length;
  figures.swept_raw = Number(sweptIn);
  figures.swept_under_faults = sweeps.filter((p) => p.created_at < input.faultsOverAt).length;
  figures.sweeps_failed = records.payouts.filter((p) => p.kind === 'sweep' && p.state === 'failed').length;
  figures.gas_topups = topUps.length;
  figures.topups_failed = records.payouts.filter(
    (p) => p.kind === 'gas_topup' && p.state === 'failed',
  ).length;
  figures.treasury_txs = input.chainTxs.length;
  return { figures, passed, failed: failures.length, failures };
}
