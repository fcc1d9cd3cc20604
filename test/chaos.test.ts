import { describe, expect, it } from 'vitest';
import { defaultChaosOptions } from '../chaos/options.js';
import { runChaos } from '../chaos/sim.js';
import { failureFigures } from '../chaos/verify.js';

/**
 * A small seeded run of the fault suite (`npm run chaos`, README "Fault suite"): the real service as a
 * child process behind a lagging, rate-limited, dropping node, SIGKILLed, reorganised, cut from the
 * broker and the database, fed bad messages, with a second instance on the same database. Every
 * failure figure must be 0; a failure names the invariant and its evidence (queue_id, tx hash).
 */
describe('the fault suite, small', () => {
  it('seed 7: 20 payouts, 20 deposits, 3 kills, 3 reorgs, 2 broker cuts, 1 db cut, 200 bad messages, a second instance', async () => {
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
    const failed = Object.fromEntries(failureFigures.map((f) => [f, report.figures[f] ?? 0]));
    expect(failed, report.failures.join('\n')).toEqual(Object.fromEntries(failureFigures.map((f) => [f, 0])));
    expect(report.failed, report.failures.join('\n')).toBe(0);
    expect(report.passed).toBeGreaterThan(40);
  }, 600_000);
});
