import { readString } from './json.js';
import {
  checkTimestamp,
  decodeSigned,
  echoString,
  isRefusal,
  sameName,
  type Validation,
  type ValidationContext,
} from './messages.js';

/*
 * The address request (PROTOCOL §7.4), validated by the rules every request follows (messages.ts):
 * dead-letter what cannot be trusted or answered, refuse (status 0) what is signed but expired or names
 * an unknown chain.
 */
/** An address request (PROTOCOL §7.4): the deposit address of a business user. */
export interface AddressRequest {
  type: 'address';
  /** As sent, echoed in the answer. */
  requestId: string;
  userRef: string;
  /** As sent, when given (the address is the same on every EVM chain; a named chain must be served). */
  chain: string | undefined;
  timestamp: number | undefined;
}

/** What a refused address request is answered with. */
export interface AddressAnswerFields {
  type: 'address';
  requestId: string;
  userRef: string;
}

/** The `user_ref` column's length: a longer one could not be stored, so not answered faithfully. */
export const MAX_USER_REF_LENGTH = 191;

/**
 * An address request: `request_id` and `user_ref` are what the answer needs (missing, not a string or
 * empty: dead-lettered, as is a `user_ref` longer than its column); then the timestamp and, when given,
 * `chain` (a configured one, in any letter case) decide a refusal.
 */
export function validateAddressRequest(
  body: string | Uint8Array,
  ctx: ValidationContext,
): Validation<AddressRequest, AddressAnswerFields> {
  const decoded = decodeSigned(body, ['request_id', 'user_ref'], ctx.secret);
  if (!decoded.ok) return { kind: 'reject', reason: decoded.reason };
  const msg = decoded.value;
  const answer: AddressAnswerFields = {
    type: 'address',
    requestId: echoString(msg, 'request_id'),
    userRef: echoString(msg, 'user_ref'),
  };
  if (answer.userRef.length > MAX_USER_REF_LENGTH) {
    return { kind: 'reject', reason: `user_ref is longer than ${MAX_USER_REF_LENGTH} characters` };
  }
  const timestamp = checkTimestamp(msg, ctx);
  if (isRefusal(timestamp)) return { kind: 'refuse', ...timestamp, request: answer };
  const chainGiven = Object.hasOwn(msg, 'chain') && msg.chain !== null && msg.chain !== '';
  const chain = chainGiven ? readString(msg, 'chain') : undefined;
  if (chainGiven && !ctx.chains.some((c) => chain !== undefined && sameName(c.name, chain))) {
    const found = chain === undefined ? 'chain is not a string' : `unknown chain ${JSON.stringify(chain)}`;
    const known = ctx.chains.map((c) => c.name).join(', ');
    return {
      kind: 'refuse',
      code: 'unknown_chain',
      message: `${found}; this service answers to ${known}`,
      request: answer,
    };
  }
  return {
    kind: 'ok',
    request: {
      type: 'address',
      requestId: answer.requestId,
      userRef: answer.userRef,
      chain,
      timestamp: timestamp.seconds,
    },
  };
}
