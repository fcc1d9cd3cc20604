/**
 * The `error` codes of status-0 responses (PROTOCOL §5). They reach the business system, so the list
 * only grows; a code is never renamed or reused.
 */
export const ERROR_CODES = [
  'unknown_chain',
  'unknown_token',
  'invalid_address',
  'invalid_amount',
  'expired',
  'insufficient_funds',
  'would_revert',
  'reverted',
  // an unresolved payout the operator settled as not paid (`payout resolve --failed REASON`)
  'not_paid',
  // an address request while no HD root exists (the operator runs `m2pool-payment wallet init-hd`)
  'hd_root_missing',
  // a withdraw or pay request that breaks a withdrawal policy of its chain and token (the message names
  // the rule and its limit); nothing was sent
  'policy_violation',
  // a payout held for approval that the operator rejected (`payout reject QUEUE_ID`); nothing was sent
  'rejected',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The codes a request can be refused with by looking at the message alone (see messages.ts). */
export const REQUEST_REFUSAL_CODES = [
  'unknown_chain',
  'unknown_token',
  'invalid_address',
  'invalid_amount',
  'expired',
] as const satisfies readonly ErrorCode[];

export type RequestRefusalCode = (typeof REQUEST_REFUSAL_CODES)[number];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}
