import type { MessageProperties } from 'amqplib';
import { type Address, type Hash, keccak256, stringToHex } from 'viem';
import { describe, expect, it } from 'vitest';
import type { BatchRecords } from '../chaos/batches.js';
import type { DepositTx } from '../chaos/chain.js';
import { defaultChaosOptions, parseChaosArgs } from '../chaos/options.js';
import { runChaos } from '../chaos/sim.js';
import type { TreasuryPayoutRow } from '../chaos/sweeps.js';
import { failureFigures } from '../chaos/verify.js';
import { type BatchVerifyInput, batchFailureFigures, verifyBatches } from '../chaos/verify-batches.js';
import { type SweepVerifyInput, sweepFailureFigures, verifySweeps } from '../chaos/verify-sweeps.js';
import { batchTransferData } from '../src/batch/contract.js';
import type { ReceivedMessage } from './helpers/rabbit.js';

/**
 * A small seeded run of the fault suite (`npm run chaos`, README "Fault suite"): the real service as a
 * child process behind a lagging, rate-limited, dropping node, SIGKILLed, reorganised, cut from the
 * broker and the database, fed bad messages, with a second instance on the same database, sweeping its
 * issued deposit wallets all along. Every failure figure must be 0; a failure names the invariant and its
 * evidence (queue_id, tx hash).
 */
describe('the fault suite, small', () => {
  it('seed 7: 20 payouts, 20 deposits, 3 kills, 3 reorgs, 2 broker cuts, 1 db cut, 200 bad messages, a second instance, 5 swept wallets', async () => {
    const report = await runChaos(
      {
        ...defaultChaosOptions,
        seed: 7,
        payouts: 20,
        deposits: 20,
        kills: 3,
        reorgs: 3,
        brokerCuts: 2,
        dbCuts: 1,
        malformed: 200,
        secondInstance: true,
        drainS: 120,
        sweeps: 5,
      },
      (line) => process.env.TEST_LOG_LEVEL && process.stderr.write(`${line}\n`),
    );
    const figures = Object.fromEntries(report.lines);
    // The faults happened: a run that injected nothing proves nothing.
    expect(Number(figures.kills)).toBeGreaterThan(0); // a kill finds nothing to kill while a crashed instance restarts
    expect(figures.reorgs).toBe(3);
    expect(figures.broker_cuts).toBe(2);
    expect(figures.db_cuts).toBe(1);
    expect(figures.malformed).toBe(200);
    expect(Number(figures.rpc_lag)).toBeGreaterThan(0);
    expect(figures.payouts).toBe(20);
    expect(figures.deposits).toBe(20);
    // Sweeping happened under those faults, its figures printed with the rest.
    expect(figures.issued_wallets).toBe(5);
    expect(Number(figures.deposits_to_issued)).toBeGreaterThan(0);
    expect(Number(figures.swept)).toBeGreaterThan(0);
    expect(Number(figures.swept_raw)).toBeGreaterThan(0);
    expect(Number(figures.treasury_txs)).toBeGreaterThanOrEqual(Number(figures.swept));
    for (const f of sweepFailureFigures) expect(report.lines.map(([name]) => name)).toContain(f);
    // The collection wallet's share of the payouts went out in batches, under the same faults.
    expect(Number(figures.batches_confirmed)).toBeGreaterThan(0);
    expect(Number(figures.payouts_batched)).toBeGreaterThanOrEqual(2);
    for (const f of batchFailureFigures) expect(report.lines.map(([name]) => name)).toContain(f);
    const failed = Object.fromEntries(failureFigures.map((f) => [f, report.figures[f] ?? 0]));
    expect(failed, report.failures.join('\n')).toEqual(Object.fromEntries(failureFigures.map((f) => [f, 0])));
    expect(report.failed, report.failures.join('\n')).toBe(0);
    expect(report.passed).toBeGreaterThan(40);
  }, 600_000);
});

describe('the fault suite options', () => {
  it('sweeps 10 wallets by default; --sweeps N and --no-sweeps', () => {
    expect(parseChaosArgs([]).sweeps).toBe(10);
    expect(parseChaosArgs(['--sweeps', '3']).sweeps).toBe(3);
    expect(parseChaosArgs(['--no-sweeps']).sweeps).toBe(0);
    expect(() => parseChaosArgs(['--no-sweeps=1'])).toThrow(/unknown option/);
  });
  it('one instance by default; --instances N (at least 1)', () => {
    expect(parseChaosArgs([]).instances).toBe(1);
    expect(parseChaosArgs(['--instances', '3']).instances).toBe(3);
    expect(() => parseChaosArgs(['--instances', '0'])).toThrow(/at least 1/);
  });
  it('batches by default; --no-batches', () => {
    expect(parseChaosArgs([]).batches).toBe(true);
    expect(parseChaosArgs(['--no-batches']).batches).toBe(false);
  });
});

/**
 * The sweep checks on a hand-made run (pure logic): one wallet, one deposit, its top-up and its sweep,
 * all consistent; then each kind of fault the checks exist for, each caught by its own figure.
 */
describe('the fault suite sweep checks', () => {
  const W = '0x00000000000000000000000000000000000000a1' as Address;
  const C = '0x00000000000000000000000000000000000000c0' as Address;
  const SENDER = '0x00000000000000000000000000000000000000d5' as Address;
  const TOKEN = '0x00000000000000000000000000000000000000e7' as Address;
  const hash = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as Hash;
  const [DEPOSIT, TOPUP_TX, SWEEP_TX] = [hash(1), hash(2), hash(3)];
  const TOPUP_ID = `gas_topup:ETH:20:${W}`;
  const SWEEP_ID = `sweep:ETH:25:${W}:USDT`;
  const message = (json: Record<string, unknown>): ReceivedMessage => ({
    json,
    text: JSON.stringify(json),
    headers: {},
    properties: {} as MessageProperties,
  });
  const row = (p: Partial<TreasuryPayoutRow> & Pick<TreasuryPayoutRow, 'queue_id'>): TreasuryPayoutRow => ({
    kind: 'sweep',
    state: 'confirmed',
    from_address: W,
    to_address: C,
    amount_raw: '99990000',
    tx_hash: SWEEP_TX,
    reverted: 0,
    error_code: null,
    error_message: null,
    created_at: 2_000,
    ...p,
  });

  const clean = (): SweepVerifyInput => {
    const deposit: DepositTx = {
      hash: DEPOSIT,
      sender: 1,
      nonce: 0,
      to: W,
      raw: 100_000_000n,
      replaced: false,
      moved: 0,
    };
    return {
      wallets: [W],
      collection: C,
      minAmountRaw: 1_000_000n,
      records: {
        payouts: [
          row({
            queue_id: TOPUP_ID,
            kind: 'gas_topup',
            from_address: C,
            to_address: W,
            amount_raw: '1000000000000000',
            tx_hash: TOPUP_TX,
            created_at: 1_000,
          }),
          row({ queue_id: SWEEP_ID }),
        ],
        txs: new Map([
          [TOPUP_TX, TOPUP_ID],
          [SWEEP_TX, SWEEP_ID],
        ]),
        depositTxs: [{ txHash: DEPOSIT, to: W, status: '1' }],
      },
      chainTxs: [
        { hash: TOPUP_TX, from: C, to: W, value: 10n ** 15n, blockNumber: 21, index: 0, status: 'success' },
        { hash: SWEEP_TX, from: W, to: TOKEN, value: 0n, blockNumber: 26, index: 0, status: 'success' },
      ],
      transfers: [
        { txHash: DEPOSIT, from: SENDER, to: W, value: 100_000_000n, blockNumber: 10, logIndex: 0 },
        { txHash: SWEEP_TX, from: W, to: C, value: 99_990_000n, blockNumber: 26, logIndex: 0 },
      ],
      deposits: [deposit],
      payouts: [],
      answers: {
        topup: [
          message({ tx_hash: DEPOSIT, address: W, status: 2 }),
          message({ tx_hash: DEPOSIT, address: W, status: 1 }),
        ],
        withdraw: [],
        pay: [],
      },
      balances: new Map([
        [W, 10_000n],
        [C, 500_000_000n + 99_990_000n],
      ]),
      collectionStart: 500_000_000n,
      faultsOverAt: 10_000,
    };
  };
  const figuresOf = (input: SweepVerifyInput) => verifySweeps(input).figures;

  it('a consistent sweep passes every check and is counted', () => {
    const verdict = verifySweeps(clean());
    expect(verdict.failures).toEqual([]);
    expect(verdict.figures).toMatchObject({
      swept: 1,
      swept_raw: 99_990_000,
      gas_topups: 1,
      deposits_to_issued: 1,
    });
    for (const f of sweepFailureFigures) expect(verdict.figures[f]).toBe(0);
  });

  it('a second confirmed top-up with no sweep between is a double top-up', () => {
    const input = clean();
    input.records.payouts.push(
      row({
        queue_id: `gas_topup:ETH:22:${W}`,
        kind: 'gas_topup',
        from_address: C,
        to_address: W,
        created_at: 1_500,
      }),
    );
    expect(figuresOf(input).double_topups).toBe(1);
  });

  it('two mined transactions of one sweep, or a mined one nobody signed, are treasury double sends', () => {
    const twice = clean();
    twice.records.txs.set(hash(4), SWEEP_ID);
    twice.chainTxs.push({
      hash: hash(4),
      from: W,
      to: TOKEN,
      value: 0n,
      blockNumber: 27,
      index: 0,
      status: 'success',
    });
    expect(figuresOf(twice).treasury_double_sends).toBe(1);
    const stranger = clean();
    stranger.chainTxs.push({
      hash: hash(5),
      from: C,
      to: W,
      value: 1n,
      blockNumber: 30,
      index: 1,
      status: 'success',
    });
    expect(figuresOf(stranger).treasury_double_sends).toBe(1);
  });

  it('an answer for a treasury payout, and a deposit for a treasury transaction, are caught', () => {
    const answered = clean();
    answered.answers.withdraw.push(message({ queue_id: SWEEP_ID, status: 1 }));
    expect(figuresOf(answered).treasury_answers).toBe(1);
    const credited = clean();
    credited.records.depositTxs.push({ txHash: TOPUP_TX, to: W, status: '2' });
    credited.answers.topup.push(message({ tx_hash: TOPUP_TX, address: W, status: 2 }));
    expect(figuresOf(credited).treasury_deposits).toBe(2);
  });

  it('a balance off by one unit, on the wallet or the collection wallet, is unbalanced', () => {
    const wallet = clean();
    wallet.balances.set(W, 9_999n);
    expect(figuresOf(wallet).unbalanced).toBe(1);
    const collection = clean();
    collection.collectionStart += 1n;
    expect(figuresOf(collection).unbalanced).toBe(1);
  });

  it('deposits to issued wallets and no confirmed sweep, or a wallet left unswept, fail the workload', () => {
    const none = clean();
    none.records.payouts = none.records.payouts.filter((p) => p.kind !== 'sweep');
    none.records.txs.delete(SWEEP_TX);
    none.chainTxs = none.chainTxs.filter((t) => t.hash !== SWEEP_TX);
    none.transfers = none.transfers.filter((t) => t.txHash !== SWEEP_TX);
    none.balances.set(W, 100_000_000n);
    none.balances.set(C, 500_000_000n);
    const figures = figuresOf(none);
    expect(figures.sweeps_missing).toBe(2); // no sweep confirmed, and the wallet still holds its deposit
    expect(figures.unbalanced).toBe(0);
  });
});

/**
 * The batch checks on a hand-made run (pure logic): one batch of two payouts mined once, one paid and one
 * the token refused, each answered once; then each fault the checks exist for, caught by its own figure.
 */
describe('the fault suite batch checks', () => {
  const C = '0x00000000000000000000000000000000000000c0' as Address;
  const TOKEN = '0x00000000000000000000000000000000000000e7' as Address;
  const R1 = '0x00000000000000000000000000000000000000b1' as Address;
  const R2 = '0x00000000000000000000000000000000000000b2' as Address;
  const hash = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as Hash;
  const [TX, OTHER] = [hash(7), hash(8)];
  const BATCH_ID = 'batch:ETH:1';
  const payouts = [
    { queueId: 'p1', role: 'withdraw' as const, from: R1, to: R1, raw: 5_000_000n },
    { queueId: 'p2', role: 'withdraw' as const, from: R2, to: R2, raw: 7_000_000n },
  ];
  const input = payouts.map((p) => ({ to: p.to, amountRaw: p.raw, ref: keccak256(stringToHex(p.queueId)) }));
  const answer = (queue_id: string, status: number, tx_hash: string = TX): ReceivedMessage => {
    const json = { queue_id, status, tx_hash, from_address: C };
    return {
      json,
      text: JSON.stringify(json),
      headers: {},
      properties: { messageId: queue_id } as MessageProperties,
    };
  };
  const clean = (): BatchVerifyInput & { records: BatchRecords } => ({
    collection: C,
    records: {
      batches: [{ queue_id: BATCH_ID, state: 'confirmed', tx_hash: TX, reverted: 0, error_code: null }],
      members: new Map([
        ['p1', { queue_id: 'p1', state: 'confirmed', batch_id: BATCH_ID }],
        ['p2', { queue_id: 'p2', state: 'failed', batch_id: BATCH_ID }],
      ]),
      txs: new Map([[TX, BATCH_ID]]),
    },
    chainTxs: [{ hash: TX, input: batchTransferData(TOKEN, input), blockNumber: 40, status: 'success' }],
    transfers: [{ txHash: TX, from: C, to: R1, value: 5_000_000n, blockNumber: 40, logIndex: 0 }],
    payouts,
    answers: { withdraw: [answer('p1', 1), answer('p2', 0)], pay: [] },
  });
  const figuresOf = (i: BatchVerifyInput) => verifyBatches(i).figures;

  it('a consistent batch passes every check and is counted', () => {
    const verdict = verifyBatches(clean());
    expect(verdict.failures).toEqual([]);
    expect(verdict.figures).toMatchObject({ batches_confirmed: 1, payouts_batched: 2, batches_failed: 0 });
    for (const f of batchFailureFigures) expect(verdict.figures[f]).toBe(0);
  });

  it('a batch mined twice, or a transaction to the batcher nobody signed, is a batch double send', () => {
    const twice = clean();
    twice.records.txs.set(OTHER, BATCH_ID);
    twice.chainTxs.push({ ...twice.chainTxs[0]!, hash: OTHER, blockNumber: 41 });
    // the batch twice, and each of its two payouts carried twice
    expect(figuresOf(twice).batch_double_sends).toBe(3);
    const stranger = clean();
    stranger.chainTxs[0]!.hash = OTHER;
    stranger.transfers[0]!.txHash = OTHER;
    expect(figuresOf(stranger).batch_double_sends).toBe(1);
  });

  it('an answer naming another hash, or a batch recorded with one, is a wrong hash', () => {
    const answered = clean();
    answered.answers.withdraw[0] = answer('p1', 1, OTHER);
    expect(figuresOf(answered).batch_wrong_hash).toBe(1);
    const recorded = clean();
    recorded.records.batches[0]!.tx_hash = OTHER;
    expect(figuresOf(recorded).batch_wrong_hash).toBe(1);
  });

  it('a member never answered, or answered twice differently, is caught', () => {
    const never = clean();
    never.answers.withdraw.pop();
    expect(figuresOf(never).batch_member_answers).toBe(1);
    const twice = clean();
    twice.answers.withdraw.push(answer('p2', 1));
    expect(figuresOf(twice).batch_member_answers).toBe(1);
  });

  it('a member confirmed without its Transfer in the batch, or failed with one, is a wrong member', () => {
    const unpaid = clean();
    unpaid.transfers[0]!.value -= 1n; // one unit short: p1 is answered 1 and confirmed, but not paid exactly
    expect(figuresOf(unpaid).batch_wrong_members).toBe(2);
    const paid = clean();
    paid.transfers.push({ txHash: TX, from: C, to: R2, value: 7_000_000n, blockNumber: 40, logIndex: 1 });
    expect(figuresOf(paid).batch_wrong_members).toBe(2); // p2 answered 0 and recorded failed
  });

  it('a failed batch is counted, not a failure', () => {
    const failed = clean();
    failed.records.batches.push({
      queue_id: 'batch:ETH:2',
      state: 'failed',
      tx_hash: null,
      reverted: 0,
      error_code: 'x',
    });
    const verdict = verifyBatches(failed);
    expect(verdict.figures.batches_failed).toBe(1);
    expect(verdict.failed).toBe(0);
  });
});
