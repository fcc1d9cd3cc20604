import { redactUrls } from './redact.js';

/**
 * The service's own error codes, one casing. They name what went wrong inside the service (a node call,
 * a database write, a bad key) and reach logs, exit lines and /status; the codes a business system sees in
 * a status-0 answer are a separate, frozen list (src/protocol/errors.ts).
 */
export const PAYMENT_ERROR_CODES = [
  // configuration and start
  'invalid_config',
  'no_sign_key',
  'collection_key_missing',
  'chain_id_mismatch',
  'no_config',
  'master_key_missing',
  'master_key_invalid',
  'master_key_wrong',
  // amounts and messages
  'invalid_amount',
  'unsignable',
  // the vault
  'private_key_invalid',
  'wallet_row_invalid',
  'wallet_unknown',
  // HD deposit wallets (vault/hd.ts)
  'mnemonic_invalid',
  'hd_index_invalid',
  'hd_root_missing',
  'hd_root_exists',
  // the node
  'rpc_error',
  // the broker
  'amqp_raw_body',
  'amqp_unroutable',
  // the database
  'db_integer_range',
  'db_insert_rejected',
  'db_migration_failed',
  // one instance per database (store/instance-lock.ts)
  'instance_locked',
  'instance_lock_aborted',
  // several instances on one database (cluster/lease.ts)
  'lease_lost',
] as const;

export type PaymentErrorCode = (typeof PAYMENT_ERROR_CODES)[number];

export interface PaymentErrorOptions {
  cause?: unknown;
  /** Whether the same call may succeed later (a node or database hiccup). Default false. */
  retryable?: boolean;
  /** Longer text: what was found, what was expected. Shown after the short message. */
  details?: string;
}

/**
 * Base error, in the manner of viem's BaseError: `shortMessage` is one line for a log or an exit line,
 * `details` says more, `cause` chains to what failed underneath and `walk()` follows that chain.
 *
 * `retryable` is read by the message consumer: a handler that fails with a non-retryable error (the
 * database refuses the row for good, say) has its message dead-lettered instead of retried for ever.
 * The worker loops (watcher, payouts, relay) retry every failure with backoff: their work is always
 * worth trying again once the node or database is back.
 */
export class PaymentError extends Error {
  override name = 'PaymentError';
  readonly code: PaymentErrorCode;
  readonly shortMessage: string;
  readonly retryable: boolean;
  readonly details: string | undefined;

  constructor(code: PaymentErrorCode, shortMessage: string, options: PaymentErrorOptions = {}) {
    super(
      options.details ? `${shortMessage}\n${options.details}` : shortMessage,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.shortMessage = shortMessage;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }

  /** The first error of the cause chain (this one included) that `match` accepts; else the deepest. */
  walk(match?: (err: unknown) => boolean): unknown {
    return walkCauses(this, match);
  }
}

/** Follows `cause` links from `err`: the first that `match` accepts, or the deepest when no `match`. */
export function walkCauses(err: unknown, match?: (err: unknown) => boolean): unknown {
  let current: unknown = err;
  for (let depth = 0; depth < 32; depth++) {
    if (match?.(current)) return current;
    const next = current instanceof Error ? current.cause : undefined;
    if (next === undefined) return match ? undefined : current;
    current = next;
  }
  return match ? undefined : current;
}

/** Whether doing the same again may succeed: false only for an error that says so. */
export function isRetryable(err: unknown): boolean {
  const found = walkCauses(err, (e) => e instanceof PaymentError);
  return found instanceof PaymentError ? found.retryable : true;
}

/**
 * One line for a thrown value, for a person: its short message (or the first line of its message), with
 * any URL cut to its host (node providers' API keys live in RPC URLs, and viem's errors quote them).
 */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const short = (err as { shortMessage?: unknown }).shortMessage;
    return redactUrls(typeof short === 'string' ? short : (err.message.split('\n')[0] ?? err.message));
  }
  return redactUrls(String(err));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
