import { walkCauses } from '../internal/errors.js';

/** Error codes of a database (or any TCP peer) that is unreachable for now, from Node and mysql2. */
const CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
]);

const CONNECTION_MESSAGES =
  /closed state|connection lost|connection is closed|ECONNRESET|ECONNREFUSED|socket hang up/i;

/**
 * Whether `err`, or anything in its cause chain, says the database could not be reached (a cut, a
 * restart), as opposed to a refusal that will repeat (bad credentials, a schema error): the first is worth
 * waiting out, the second is not.
 */
export function isConnectionError(err: unknown): boolean {
  return (
    walkCauses(err, (e) => {
      if (!(e instanceof Error)) return false;
      const code = (e as { code?: unknown }).code;
      return (typeof code === 'string' && CONNECTION_CODES.has(code)) || CONNECTION_MESSAGES.test(e.message);
    }) !== undefined
  );
}
