import { stringifyMessage } from '../protocol/json.js';
import { withSignature } from '../protocol/sign.js';
import type { AddressRequest, PayRequest, TopupRequest, WithdrawRequest } from './messages.js';

/**
 * Request bodies, built and signed as PROTOCOL §5 and §7–§8 say. Only the protocol's fields are taken
 * (an extra field passed by untyped code would be signed and sent, and means nothing to the service).
 *
 * The amount goes out as a JSON **string** holding the exact decimal the caller gave. A JSON number is
 * signed from its float64 value (§5.3), so with more than ~15 significant digits (any 18-decimal
 * amount) the signature would not cover the last digits: `"1.000000000000000001"` and
 * `"1.000000000000000002"` would carry the same sign. A string is signed as written, and the service
 * converts it exactly either way (§6.3).
 *
 * What the service would dead-letter without an answer (an id that is no string or is too long, a body
 * it cannot sign) is refused here with a TypeError, before anything is sent; what it answers with
 * `status 0` (an unknown chain, an invalid address, too many decimals, a zero amount) is left to it, since
 * only it knows the chains and tokens.
 */

/** PROTOCOL §8.2: the ids' database columns. */
const MAX_ID_LENGTH = 191;
/** Plain decimal text: digits with an optional fraction; no sign, exponent or spaces. */
const DECIMAL = /^\d+(\.\d+)?$/;
/** What the service reads at most (PROTOCOL §6.3). */
const MAX_AMOUNT_LENGTH = 80;

function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${field} must be a non-empty string`);
  return value;
}

function id(value: unknown, field: string): string {
  const given = text(value, field);
  if (given.length > MAX_ID_LENGTH)
    throw new TypeError(`${field} must be at most ${MAX_ID_LENGTH} characters, got ${given.length}`);
  return given;
}

/** The amount as given, checked to be exact decimal text: a JS number is refused, never rounded. */
export function amountText(value: unknown): string {
  if (typeof value !== 'string')
    throw new TypeError(`amount must be a decimal string such as "12.5", got a ${typeof value}`);
  if (value.length > MAX_AMOUNT_LENGTH || !DECIMAL.test(value))
    throw new TypeError(`amount must be a plain decimal such as "12.5", got ${JSON.stringify(value)}`);
  return value;
}

function timestampOf(value: unknown, nowS: () => number): number {
  if (value === undefined) return nowS();
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw new TypeError(`timestamp must be whole unix seconds, got ${String(value)}`);
  return value;
}

function signed<T extends Record<string, unknown>>(message: T, secret: string) {
  const withSign = withSignature(message, secret);
  return { message: withSign, body: stringifyMessage(withSign) };
}

export function topupBody(fields: TopupRequest, secret: string, nowS: () => number) {
  return signed(
    {
      chain: text(fields.chain, 'chain'),
      symbol: text(fields.symbol, 'symbol'),
      address: text(fields.address, 'address'),
      timestamp: timestampOf(fields.timestamp, nowS),
    },
    secret,
  );
}

function payoutFields(fields: WithdrawRequest) {
  return {
    from_address: text(fields.from_address, 'from_address'),
    to_address: text(fields.to_address, 'to_address'),
    amount: amountText(fields.amount),
    chain: text(fields.chain, 'chain'),
    symbol: text(fields.symbol, 'symbol'),
  };
}

export function withdrawBody(fields: WithdrawRequest, secret: string, nowS: () => number) {
  return signed(
    {
      queue_id: id(fields.queue_id, 'queue_id'),
      ...payoutFields(fields),
      timestamp: timestampOf(fields.timestamp, nowS),
    },
    secret,
  );
}

export function payBody(fields: PayRequest, secret: string, nowS: () => number) {
  return signed(
    {
      queue_id: id(fields.queue_id, 'queue_id'),
      order_id: id(fields.order_id, 'order_id'),
      ...payoutFields(fields),
      timestamp: timestampOf(fields.timestamp, nowS),
    },
    secret,
  );
}

export function addressBody(fields: AddressRequest, secret: string, nowS: () => number) {
  return signed(
    {
      request_id: text(fields.request_id, 'request_id'),
      user_ref: id(fields.user_ref, 'user_ref'),
      ...(fields.chain === undefined ? {} : { chain: text(fields.chain, 'chain') }),
      timestamp: timestampOf(fields.timestamp, nowS),
    },
    secret,
  );
}
