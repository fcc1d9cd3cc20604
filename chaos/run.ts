/**
 * `npm run chaos -- --seed N --payouts N --deposits N [--kills N --reorgs N --broker-cuts N --db-cuts N
 * --malformed N --instances N --second-instance --confirm-height N --lag-blocks N --drain-s N --sweeps N | --no-sweeps --no-batches]`:
 * the fault suite (see sim.ts, verify.ts and, for sweeping, sweeps.ts and verify-sweeps.ts; README "Fault
 * suite"); for batch payouts, batches.ts and verify-batches.ts). Prints the failed checks with their evidence, then `chaos <figure> <value>` lines, then
 * `N passed, M failed`; exits 1 when a failure figure is not 0.
 * Progress goes to stderr. Needs RabbitMQ and MariaDB on 127.0.0.1.
 */
import { parseChaosArgs } from './options.js';
import { cleanupChaos, runChaos } from './sim.js';
import { failureFigures } from './verify.js';

const log = (s: string) => process.stderr.write(`${s}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    log(`# ${signal}: cleaning up`);
    void cleanupChaos(log).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });

let options: ReturnType<typeof parseChaosArgs>;
try {
  options = parseChaosArgs(process.argv.slice(2));
} catch (err) {
  log(`error: ${(err as Error).message}`);
  process.exit(2);
}

try {
  const report = await runChaos(options, log);
  for (const f of report.failures.slice(0, 100)) console.log(`failed: ${f}`);
  if (report.failures.length > 100) console.log(`failed: … and ${report.failures.length - 100} more`);
  for (const [figure, value] of report.lines) console.log(`chaos ${figure} ${value}`);
  console.log(`${report.passed} passed, ${report.failed} failed`);
  const bad = failureFigures.some((f) => (report.figures[f] ?? 0) !== 0) || report.failed > 0;
  process.exit(bad ? 1 : 0);
} catch (err) {
  log(`error: the run could not finish: ${(err as Error).stack ?? err}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
