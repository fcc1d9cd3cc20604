/**
 * What a run prints: the verdicts of verify.ts and verify-sweeps.ts as one, and the `chaos <figure> <value>`
 * lines in their order (verify-batches.ts's too) (README "Fault suite" lists them).
 */
import type { ChaosOptions } from './options.js';
import type { Verdict } from './verify.js';

/** Figures, checks and failures of several verdicts, added up. */
export function mergeVerdicts(...verdicts: Verdict[]): Verdict {
  const figures: Record<string, number> = {};
  for (const v of verdicts)
    for (const [k, n] of Object.entries(v.figures)) figures[k] = (figures[k] ?? 0) + n;
  return {
    figures,
    passed: verdicts.reduce((n, v) => n + v.passed, 0),
    failed: verdicts.reduce((n, v) => n + v.failed, 0),
    failures: verdicts.flatMap((v) => v.failures),
  };
}

/** What the run itself counted, beside the verdict. */
export interface RunCounts {
  payouts: number;
  deposits: number;
  instancesStarted: number;
  /** The fault proxy's counts by kind. */
  rpc: Record<string, number>;
  injected: {
    kills: number;
    reorgs: number;
    reorg_blocks: number;
    deposits_moved: number;
    deposits_replaced: number;
    broker_cuts: number;
    db_cuts: number;
    malformed: number;
    second_instance: number;
  };
  seconds: number;
}

export function reportLines(o: ChaosOptions, run: RunCounts, verdict: Verdict): [string, number | string][] {
  const f = (name: string): [string, number] => [name, verdict.figures[name] ?? 0];
  const i = run.injected;
  return [
    ['seed', o.seed],
    ['payouts', run.payouts],
    ['deposits', run.deposits],
    ['deposits_moved', i.deposits_moved],
    ['deposits_replaced', i.deposits_replaced],
    ['kills', i.kills],
    ['instances', o.instances],
    ['instances_started', run.instancesStarted],
    ['second_instance', i.second_instance],
    ['reorgs', i.reorgs],
    ['reorg_blocks', i.reorg_blocks],
    ['broker_cuts', i.broker_cuts],
    ['db_cuts', i.db_cuts],
    ...['429', '503', 'drop', 'delay', 'lag', 'header_not_found', 'ws_cut'].map((k): [string, number] => [
      `rpc_${k}`,
      run.rpc[k] ?? 0,
    ]),
    ['malformed', i.malformed],
    f('payouts_paid'),
    f('payouts_refused'),
    f('deposits_canonical'),
    f('deposits_removed'),
    f('removed_unseen'),
    f('redelivered'),
    f('issued_wallets'),
    f('deposits_to_issued'),
    f('swept'),
    f('swept_raw'),
    f('swept_under_faults'),
    f('sweeps_failed'),
    f('gas_topups'),
    f('topups_failed'),
    f('treasury_txs'),
    f('batches_confirmed'),
    f('payouts_batched'),
    f('batches_failed'),
    f('batches_reverted'),
    f('double_sends'),
    f('missing_answers'),
    f('duplicate_answers'),
    f('wrong_answers'),
    f('false_credits'),
    f('missed_deposits'),
    f('unsigned_answers'),
    f('out_of_order'),
    f('lost_messages'),
    f('crashes'),
    f('double_topups'),
    f('treasury_double_sends'),
    f('treasury_answers'),
    f('treasury_deposits'),
    f('unbalanced'),
    f('sweeps_missing'),
    f('batch_double_sends'),
    f('batch_wrong_hash'),
    f('batch_member_answers'),
    f('batch_wrong_members'),
    ['seconds', run.seconds],
  ];
}
