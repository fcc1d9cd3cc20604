import { assetsOf } from '../config/chains.js';
import type { Config, TokenConfig } from '../config/types.js';
import { PaymentError } from '../internal/errors.js';
import { formatAmount, parseAmount, plainDecimal } from '../money/amount.js';
import { toAddressLc } from './address.js';
import type { RequestRefusalCode } from './errors.js';
import {
  isJsonNumberText,
  isJsonObject,
  type JsonObject,
  parseJsonLossless,
  readNumberText,
  readString,
} from './json.js';
import { canonicalString, verifySignature } from './sign.js';

/**
 * Parsing and validation of requests (PROTOCOL §5), in the order that decides what happens to them:
 *
 * 1. reject (dead-letter, never answered): undecodable, not JSON, not an object, lacking a field the
 *    answer needs (topup `address`, withdraw/pay `queue_id`, pay `order_id`), or a bad signature.
 *    An answer to an unsigned message could be mistaken for the answer to the real request.
 * 2. refuse (answered status 0): signed, but expired, or naming an unknown chain or token, a bad
 *    address or a bad amount, checked in that order.
 * 3. ok: typed, normalised request.
 *
 * `chain` and `symbol` match case-insensitively ("eth", "usdt" work: v2 senders are not consistent
 * and there is no ambiguity), but are echoed back exactly as sent, accepted or refused, since the
 * sender matches answers on its own spelling and the echoed values are part of what it verifies. The
 * amount is answered as its exact plain decimal (`100.50` → `100.5`, `1e-7` → `0.0000001`), accepted
 * or refused; a refused amount that is no decimal is answered `0`, the field being a JSON number.
 */

export interface ValidationContext {
  secret: string;
  /** Seconds the timestamp may be from `nowS`; 0 turns the check off. */
  signWindowS: number;
  /**
   * The chains this service answers to, each with what `symbol` may name on it: its tokens and its
   * native coin (at `NATIVE_ADDRESS_LC`, see `assetsOf`).
   */
  chains: readonly ServedChain[];
  nowS: number;
}

export interface ServedChain {
  /** The configured name ("ETH", "BSC"). */
  name: string;
  assets: readonly TokenConfig[];
}

/** The context a request of this service is validated in, now. */
export function validationContextFor(config: Config, secret: string): ValidationContext {
  return {
    secret,
    signWindowS: config.signWindowS,
    chains: config.chains.map((chain) => ({ name: chain.name, assets: assetsOf(chain) })),
    nowS: Math.floor(Date.now() / 1000),
  };
}

export interface TopupRequest {
  type: 'topup';
  /** As sent. */
  chain: string;
  /** The configured name of the chain it names: what rows are stored and routed under. */
  chainName: string;
  /** As sent; `token.symbol` is the configured spelling. */
  symbol: string;
  token: TokenConfig;
  addressLc: `0x${string}`;
  /** Unix seconds; undefined only when absent and the window check is off. */
  timestamp: number | undefined;
}

export interface WithdrawRequest {
  type: 'withdraw';
  queueId: string;
  /** As sent: answers echo it. */
  chain: string;
  /** The configured name of the chain it names: what rows are stored and routed under. */
  chainName: string;
  symbol: string;
  token: TokenConfig;
  fromAddressLc: `0x${string}`;
  toAddressLc: `0x${string}`;
  amountRaw: bigint;
  /** The exact amount as normalised decimal text ("100.5"), for responses. */
  amountText: string;
  timestamp: number | undefined;
}

export interface PayRequest extends Omit<WithdrawRequest, 'type'> {
  type: 'pay';
  orderId: string;
}

/** What a refused topup is answered with: fields as sent ('' when absent or not a string). */
export interface TopupAnswerFields {
  type: 'topup';
  address: string;
  chain: string;
  symbol: string;
}

/** What a refused withdrawal is answered with. Addresses are lowercased when valid, else as sent. */
export interface WithdrawAnswerFields {
  type: 'withdraw';
  queueId: string;
  chain: string;
  symbol: string;
  fromAddress: string;
  toAddress: string;
  /**
   * JSON-number text to write as `amount`: the exact plain decimal of the amount sent (`1e-7` →
   * "0.0000001"), or "0" when it is no decimal or its plain form is longer than the column (100).
   */
  amountText: string;
}

export interface PayAnswerFields extends Omit<WithdrawAnswerFields, 'type'> {
  type: 'pay';
  orderId: string;
}

export type Validation<Req, Answer> =
  | { kind: 'reject'; reason: string }
  | { kind: 'refuse'; code: RequestRefusalCode; message: string; request: Answer }
  | { kind: 'ok'; request: Req };

/** Half of a UTF-16 surrogate pair without its other half (a `u` regex sees a pair as one code point). */
const LONE_SURROGATE = /\p{Cs}/u;

/** Far above any real request; bounds the parser's work on garbage. */
const MAX_BODY_BYTES = 64 * 1024;

type Step<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Steps 1 and the signature check shared by every request type. Give it the body's bytes (the consumer's
 * `raw`): only there can invalid UTF-8 be seen, text decoded from them has it replaced already.
 */
export function decodeSigned(
  body: string | Uint8Array,
  answerKeys: readonly string[],
  secret: string,
): Step<JsonObject> {
  // The limit is in UTF-8 bytes, the text's too ("€" is one character and three bytes).
  const bytes = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.byteLength;
  if (bytes > MAX_BODY_BYTES) return { ok: false, reason: `message larger than ${MAX_BODY_BYTES} bytes` };
  let text: string;
  if (typeof body === 'string') {
    text = body;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      return { ok: false, reason: 'message is not valid UTF-8' };
    }
  }
  let parsed: unknown;
  try {
    parsed = parseJsonLossless(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, reason: `invalid JSON: ${message}` };
  }
  if (!isJsonObject(parsed)) return { ok: false, reason: 'message is not a JSON object' };
  for (const key of answerKeys) {
    const value = readString(parsed, key);
    if (value === undefined) {
      const present = Object.hasOwn(parsed, key) && parsed[key] !== null;
      return { ok: false, reason: present ? `field ${key} is not a string` : `missing field ${key}` };
    }
    if (value === '') return { ok: false, reason: `field ${key} is empty` };
    // A JSON escape such as "\ud800" alone: stored, it becomes U+FFFD, so it could not be echoed as sent.
    if (LONE_SURROGATE.test(value)) return { ok: false, reason: `field ${key} is not valid Unicode` };
  }
  const sign = parsed.sign;
  if (sign === undefined || sign === null || sign === '') return { ok: false, reason: 'missing field sign' };
  try {
    canonicalString(parsed);
  } catch (err) {
    return { ok: false, reason: `bad signature: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (!verifySignature(parsed, secret)) return { ok: false, reason: 'bad signature' };
  return { ok: true, value: parsed };
}

type Refusal = { code: RequestRefusalCode; message: string };

/** Timestamp as a number or numeric string of unix seconds. */
export function checkTimestamp(
  msg: JsonObject,
  ctx: ValidationContext,
): { seconds: number | undefined } | Refusal {
  const text = readNumberText(msg, 'timestamp');
  const value = text !== undefined && isJsonNumberText(text) ? Number(text) : Number.NaN;
  const valid = Number.isSafeInteger(value) && value >= 0;
  if (ctx.signWindowS <= 0) return { seconds: valid ? value : undefined };
  if (text === undefined || text === '') return { code: 'expired', message: 'missing timestamp' };
  if (!valid) return { code: 'expired', message: `timestamp ${JSON.stringify(text)} is not unix seconds` };
  if (Math.abs(ctx.nowS - value) > ctx.signWindowS) {
    return {
      code: 'expired',
      message: `timestamp ${value} is more than ${ctx.signWindowS} s from now (${ctx.nowS})`,
    };
  }
  return { seconds: value };
}

/** Letter case aside; never of another length, so the spelling sent fits where the configured one does. */
export function sameName(a: string, b: string): boolean {
  return a.length === b.length && a.toLowerCase() === b.toLowerCase();
}

/** The chain and the token (or native coin) a request names, in the configured spelling. */
interface Target {
  chainName: string;
  token: TokenConfig;
}

function checkChainAndToken(msg: JsonObject, ctx: ValidationContext): Refusal | Target {
  const chain = readString(msg, 'chain');
  const served = chain === undefined ? undefined : ctx.chains.find((c) => sameName(c.name, chain));
  if (!served) {
    const found = chain === undefined ? 'no chain' : `unknown chain ${JSON.stringify(chain)}`;
    const known = ctx.chains.map((c) => c.name).join(', ');
    return { code: 'unknown_chain', message: `${found}; this service answers to ${known}` };
  }
  const symbol = readString(msg, 'symbol');
  const token = symbol === undefined ? undefined : served.assets.find((t) => sameName(t.symbol, symbol));
  if (!token) {
    const found = symbol === undefined ? 'no symbol' : `unknown token ${JSON.stringify(symbol)}`;
    const known = served.assets.map((t) => t.symbol).join(', ');
    return { code: 'unknown_token', message: `${found} on ${served.name}; known: ${known}` };
  }
  return { chainName: served.name, token };
}

function checkAddress(msg: JsonObject, key: string): `0x${string}` | Refusal {
  const lc = toAddressLc(msg[key]);
  if (lc) return lc;
  const value = Object.hasOwn(msg, key) ? msg[key] : undefined;
  const found = value === undefined || value === null ? 'missing' : JSON.stringify(value);
  return { code: 'invalid_address', message: `${key} ${found} is not a 0x-prefixed 20-byte hex address` };
}

export function isRefusal(value: unknown): value is Refusal {
  return typeof value === 'object' && value !== null && 'code' in value && 'message' in value;
}

export function echoString(msg: JsonObject, key: string): string {
  return readString(msg, key) ?? '';
}

function echoAddress(msg: JsonObject, key: string): string {
  return toAddressLc(msg[key]) ?? echoString(msg, key);
}

/** The length of the `amount_text` column a refused amount is stored in. */
const MAX_ECHOED_AMOUNT_LENGTH = 100;

function echoAmount(msg: JsonObject): string {
  const text = readNumberText(msg, 'amount');
  return (text === undefined ? undefined : plainDecimal(text, MAX_ECHOED_AMOUNT_LENGTH)) ?? '0';
}

export function validateTopup(
  body: string | Uint8Array,
  ctx: ValidationContext,
): Validation<TopupRequest, TopupAnswerFields> {
  const decoded = decodeSigned(body, ['address'], ctx.secret);
  if (!decoded.ok) return { kind: 'reject', reason: decoded.reason };
  const msg = decoded.value;
  const answer: TopupAnswerFields = {
    type: 'topup',
    address: echoAddress(msg, 'address'),
    chain: echoString(msg, 'chain'),
    symbol: echoString(msg, 'symbol'),
  };
  const timestamp = checkTimestamp(msg, ctx);
  if (isRefusal(timestamp)) return { kind: 'refuse', ...timestamp, request: answer };
  const target = checkChainAndToken(msg, ctx);
  if (isRefusal(target)) return { kind: 'refuse', ...target, request: answer };
  const addressLc = checkAddress(msg, 'address');
  if (isRefusal(addressLc)) return { kind: 'refuse', ...addressLc, request: answer };
  return {
    kind: 'ok',
    request: {
      type: 'topup',
      chain: answer.chain,
      chainName: target.chainName,
      symbol: answer.symbol,
      token: target.token,
      addressLc,
      timestamp: timestamp.seconds,
    },
  };
}

type PayoutFields = Omit<WithdrawRequest, 'type'>;

/** Everything withdraw and pay share, after the decode step. */
function validatePayoutFields(
  msg: JsonObject,
  ctx: ValidationContext,
): { ok: true; value: PayoutFields } | { ok: false; refusal: Refusal } {
  const timestamp = checkTimestamp(msg, ctx);
  if (isRefusal(timestamp)) return { ok: false, refusal: timestamp };
  const target = checkChainAndToken(msg, ctx);
  if (isRefusal(target)) return { ok: false, refusal: target };
  const { token, chainName } = target;
  const fromAddressLc = checkAddress(msg, 'from_address');
  if (isRefusal(fromAddressLc)) return { ok: false, refusal: fromAddressLc };
  const toAddressLc = checkAddress(msg, 'to_address');
  if (isRefusal(toAddressLc)) return { ok: false, refusal: toAddressLc };
  const amountText = readNumberText(msg, 'amount');
  if (amountText === undefined) {
    return { ok: false, refusal: { code: 'invalid_amount', message: 'amount is missing or not a number' } };
  }
  let amountRaw: bigint;
  try {
    amountRaw = parseAmount(amountText, token.decimals);
  } catch (err) {
    if (!(err instanceof PaymentError)) throw err;
    return { ok: false, refusal: { code: 'invalid_amount', message: err.message } };
  }
  return {
    ok: true,
    value: {
      queueId: echoString(msg, 'queue_id'),
      chain: echoString(msg, 'chain'),
      chainName,
      symbol: echoString(msg, 'symbol'),
      token,
      fromAddressLc,
      toAddressLc,
      amountRaw,
      amountText: formatAmount(amountRaw, token.decimals),
      timestamp: timestamp.seconds,
    },
  };
}

function withdrawAnswer(msg: JsonObject): WithdrawAnswerFields {
  return {
    type: 'withdraw',
    queueId: echoString(msg, 'queue_id'),
    chain: echoString(msg, 'chain'),
    symbol: echoString(msg, 'symbol'),
    fromAddress: echoAddress(msg, 'from_address'),
    toAddress: echoAddress(msg, 'to_address'),
    amountText: echoAmount(msg),
  };
}

export function validateWithdraw(
  body: string | Uint8Array,
  ctx: ValidationContext,
): Validation<WithdrawRequest, WithdrawAnswerFields> {
  const decoded = decodeSigned(body, ['queue_id'], ctx.secret);
  if (!decoded.ok) return { kind: 'reject', reason: decoded.reason };
  const result = validatePayoutFields(decoded.value, ctx);
  if (!result.ok) return { kind: 'refuse', ...result.refusal, request: withdrawAnswer(decoded.value) };
  return { kind: 'ok', request: { type: 'withdraw', ...result.value } };
}

/** `order_id` counts as needed to answer: the pay response carries it and the sender matches on it. */
export function validatePay(
  body: string | Uint8Array,
  ctx: ValidationContext,
): Validation<PayRequest, PayAnswerFields> {
  const decoded = decodeSigned(body, ['queue_id', 'order_id'], ctx.secret);
  if (!decoded.ok) return { kind: 'reject', reason: decoded.reason };
  const orderId = echoString(decoded.value, 'order_id');
  const result = validatePayoutFields(decoded.value, ctx);
  if (!result.ok) {
    const { type: _type, ...answer } = withdrawAnswer(decoded.value);
    return { kind: 'refuse', ...result.refusal, request: { type: 'pay', ...answer, orderId } };
  }
  return { kind: 'ok', request: { type: 'pay', ...result.value, orderId } };
}
