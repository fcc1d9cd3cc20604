import { pino } from 'pino';

/**
 * The one switch for logs in tests: TEST_LOG_LEVEL=<pino level> (trace, debug, info, warn, error)
 * prints the logs of the code under test from that level up: the services the tests start (in process
 * or as their own process) and the parts the unit tests make. Unset, nothing is printed; the services'
 * lines are still kept in memory for the tests that read them.
 */
export const TEST_LOG_LEVEL = process.env.TEST_LOG_LEVEL || undefined;

/** The lowest level printed (none for `silent`); an unknown name prints everything. */
const threshold =
  TEST_LOG_LEVEL === undefined || TEST_LOG_LEVEL === 'silent'
    ? undefined
    : (pino.levels.values[TEST_LOG_LEVEL] ?? 0);

/** Writes one log line (JSON from pino, or any text) to stderr when TEST_LOG_LEVEL lets it through. */
export function printTestLog(line: string, prefix = ''): void {
  if (threshold === undefined || line.trim() === '') return;
  let level: unknown;
  try {
    level = (JSON.parse(line) as { level?: unknown }).level;
  } catch {
    level = undefined; // not JSON: printed as it is
  }
  if (typeof level === 'number' && level < threshold) return;
  process.stderr.write(`${prefix}${line.endsWith('\n') ? line : `${line}\n`}`);
}
