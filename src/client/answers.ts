import { plainDecimal } from '../money/amount.js';
import { isJsonNumber, isJsonObject, type JsonObject, parseJsonLossless } from '../protocol/json.js';
import { verifySignature } from '../protocol/sign.js';
import type {
  AddressAnswer,
  DepositAnswer,
  PayAnswer,
  TopupAnswer,
  TopupRefusalAnswer,
  WithdrawAnswer,
} from './messages.js';

/**
 * Answers from the service, read as PROTOCOL §7.2 and §8.4 describe them: parsed without losing a
 * number's text (lossless JSON), the signature checked over the message as received (§5.2), then typed.
 * A message that fails any step is not an answer of the service: it is never handed to a handler, and
 * the reason says why it was moved to the `.dlq`.
 */

export type ReadResult<A> = { ok: true; answer: A } | { ok: false; reason: string };

/** Thrown inside a reader; becomes the dead-letter reason. */
class Malformed extends Error {}

/** The plain text of an amount is at most this long (PROTOCOL §8.4 writes `0` beyond 100 characters). */
const MAX_AMOUNT_CHARS = 120;

function field(obj: JsonObject, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function str(obj: JsonObject, key: string): string {
  const value = field(obj, key);
  if (typeof value !== 'string') throw new Malformed(`${key}: expected a string`);
  return value;
}

/** A whole number that fits a JS number exactly (heights, indexes, unix seconds). */
function int(obj: JsonObject, key: string): number {
  const value = field(obj, key);
  const number = isJsonNumber(value) && /^\d+$/.test(value.value) ? Number(value.value) : Number.NaN;
  if (!Number.isSafeInteger(number)) throw new Malformed(`${key}: expected a whole number`);
  return number;
}

/** An amount's exact decimal text: the JSON number's own text in its plain form, never a float. */
function amount(obj: JsonObject, key: string): string {
  const value = field(obj, key);
  const plain = isJsonNumber(value) ? plainDecimal(value.value, MAX_AMOUNT_CHARS) : undefined;
  if (plain === undefined || plain.startsWith('-')) throw new Malformed(`${key}: expected a decimal number`);
  return plain;
}

function status<S extends number>(obj: JsonObject, allowed: readonly S[]): S {
  const value = int(obj, 'status');
  if (!(allowed as readonly number[]).includes(value))
    throw new Malformed(`status: expected ${allowed.join(', ')}, found ${value}`);
  return value as S;
}

/** The parsed body when it is a JSON object signed with `secret`, else why not. */
function signedObject(body: string, secret: string): ReadResult<JsonObject> {
  let parsed: unknown;
  try {
    parsed = parseJsonLossless(body);
  } catch (err) {
    return {
      ok: false,
      reason: `not JSON: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300),
    };
  }
  if (!isJsonObject(parsed)) return { ok: false, reason: 'not a JSON object' };
  if (!verifySignature(parsed, secret)) return { ok: false, reason: 'bad signature' };
  return { ok: true, answer: parsed };
}

function read<A>(body: string, secret: string, kind: string, shape: (obj: JsonObject) => A): ReadResult<A> {
  const signed = signedObject(body, secret);
  if (!signed.ok) return signed;
  try {
    return { ok: true, answer: shape(signed.answer) };
  } catch (err) {
    if (!(err instanceof Malformed)) throw err;
    // Signed by someone with the secret, but not this kind of answer (a newer or foreign sender).
    return { ok: false, reason: `not a ${kind} answer: ${err.message}` };
  }
}

function topupShape(obj: JsonObject): TopupAnswer {
  const common = { address: str(obj, 'address'), chain: str(obj, 'chain'), symbol: str(obj, 'symbol') };
  if (field(obj, 'error') !== undefined) {
    const refusal: TopupRefusalAnswer = {
      ...common,
      status: status(obj, [0] as const),
      error: str(obj, 'error'),
      error_message: str(obj, 'error_message'),
      timestamp: int(obj, 'timestamp'),
      sign: str(obj, 'sign'),
    };
    return refusal;
  }
  const deposit: DepositAnswer = {
    address: common.address,
    status: status(obj, [0, 1, 2] as const),
    chain: common.chain,
    symbol: common.symbol,
    amount: amount(obj, 'amount'),
    tx_hash: str(obj, 'tx_hash'),
    ...(field(obj, 'log_index') === undefined ? {} : { log_index: int(obj, 'log_index') }),
    block_height: int(obj, 'block_height'),
    from_address: str(obj, 'from_address'),
    timestamp: int(obj, 'timestamp'),
    sign: str(obj, 'sign'),
  };
  return deposit;
}

/** The fields in their wire order. */
function withdrawShape(obj: JsonObject): WithdrawAnswer {
  const outcome = status(obj, [0, 1] as const);
  const fields = {
    queue_id: str(obj, 'queue_id'),
    status: outcome,
    amount: amount(obj, 'amount'),
    chain: str(obj, 'chain'),
    symbol: str(obj, 'symbol'),
    tx_hash: str(obj, 'tx_hash'),
    from_address: str(obj, 'from_address'),
    to_address: str(obj, 'to_address'),
    fee: amount(obj, 'fee'),
  };
  const tail = { timestamp: int(obj, 'timestamp'), sign: str(obj, 'sign') };
  if (outcome === 1) return { ...fields, status: 1 as const, ...tail };
  return {
    ...fields,
    status: 0 as const,
    error: str(obj, 'error'),
    error_message: str(obj, 'error_message'),
    ...tail,
  };
}

/** A pay answer has `order_id` right after `queue_id`. */
function payShape(obj: JsonObject): PayAnswer {
  const { queue_id, ...rest } = withdrawShape(obj);
  return { queue_id, order_id: str(obj, 'order_id'), ...rest };
}

function addressShape(obj: JsonObject): AddressAnswer {
  const ids = { request_id: str(obj, 'request_id'), user_ref: str(obj, 'user_ref') };
  const tail = () => ({ timestamp: int(obj, 'timestamp'), sign: str(obj, 'sign') });
  if (status(obj, [0, 1] as const) === 1)
    return { ...ids, address: str(obj, 'address'), index: int(obj, 'index'), status: 1, ...tail() };
  return { ...ids, status: 0, error: str(obj, 'error'), error_message: str(obj, 'error_message'), ...tail() };
}

export function readAddressAnswer(body: string, secret: string): ReadResult<AddressAnswer> {
  return read(body, secret, 'address', addressShape);
}

export function readTopupAnswer(body: string, secret: string): ReadResult<TopupAnswer> {
  return read(body, secret, 'topup', topupShape);
}

export function readWithdrawAnswer(body: string, secret: string): ReadResult<WithdrawAnswer> {
  return read(body, secret, 'withdraw', withdrawShape);
}

export function readPayAnswer(body: string, secret: string): ReadResult<PayAnswer> {
  return read(body, secret, 'pay', payShape);
}
