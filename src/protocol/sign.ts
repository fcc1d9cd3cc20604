import { createHmac, timingSafeEqual } from 'node:crypto';
import { PaymentError } from '../internal/errors.js';
import { isJsonNumber, type JsonObject } from './json.js';

/**
 * PROTOCOL §4. The canonical string must match what the v2 Go peers compute, so numbers are written
 * from their float64 value (Go decodes them into float64): `50.0` → "50", `100.50` → "100.5",
 * never with an exponent (Go's FormatFloat(n, 'f', -1, 64)).
 */

/** Shortest round-trip decimal of a float64, without exponent. */
export function canonicalNumber(n: number): string {
  if (!Number.isFinite(n)) throw new PaymentError('unsignable', `cannot sign the number ${n}`);
  const text = String(n);
  return text.includes('e') ? expandExponent(text) : text;
}

/** "1e+21" → "1000000000000000000000", "1.5e-7" → "0.00000015" (input is String(n) output). */
function expandExponent(text: string): string {
  const match = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!match) throw new PaymentError('unsignable', `unexpected number text ${text}`);
  const [, sign = '', intPart = '', fracPart = '', exp = '0'] = match;
  const digits = intPart + fracPart;
  const point = intPart.length + Number(exp);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + '0'.repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** The canonical text of one value, or undefined when the field is left out (null, undefined, ''). */
function canonicalValue(key: string, value: unknown): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (isJsonNumber(value)) return canonicalNumber(Number(value.value));
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return canonicalNumber(value);
    case 'bigint':
      return canonicalNumber(Number(value));
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      // §4 says nothing of nested values; refusing them beats guessing a form the peer may not share.
      throw new PaymentError(
        'unsignable',
        `field ${key} is ${Array.isArray(value) ? 'a list' : 'an object'}`,
      );
  }
}

/** Byte order of the UTF-8 keys (JS string comparison is UTF-16 order, which differs beyond BMP). */
function compareBytes(a: string, b: string): number {
  // Without surrogates (every key of our messages), UTF-16 order is code point order, which is UTF-8
  // byte order: no need to encode.
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * `key=value&…` over every top-level field but `sign`. Throws PaymentError `unsignable` for a
 * nested object/list or a non-finite number.
 */
export function canonicalString(msg: JsonObject): string {
  const pairs: [string, string][] = [];
  for (const [key, value] of Object.entries(msg)) {
    if (key === 'sign') continue;
    const text = canonicalValue(key, value);
    if (text !== undefined) pairs.push([key, text]);
  }
  pairs.sort(([a], [b]) => compareBytes(a, b));
  return pairs.map(([key, text]) => `${key}=${text}`).join('&');
}

function hmacHex(canonical: string, secret: string): string {
  return createHmac('sha256', secret).update(canonical, 'utf8').digest('hex');
}

/** Lowercase hex HMAC-SHA256(secret, canonicalString(msg)). */
export function signMessage(msg: JsonObject, secret: string): string {
  return hmacHex(canonicalString(msg), secret);
}

/** A copy of `msg` with `sign` set (last, so the written JSON reads naturally). */
export function withSignature<T extends JsonObject>(msg: T, secret: string): T & { sign: string } {
  const { sign: _old, ...rest } = msg;
  return { ...rest, sign: signMessage(msg, secret) } as T & { sign: string };
}

const HEX_SIGN = /^[0-9a-fA-F]{64}$/;

/**
 * Whether `msg.sign` is the HMAC of the message. Hex case is ignored on input. An unsignable
 * message (nested value, overflowing number) never verifies.
 */
export function verifySignature(msg: JsonObject, secret: string): boolean {
  const given = msg.sign;
  if (typeof given !== 'string' || !HEX_SIGN.test(given)) return false;
  let expected: string;
  try {
    expected = signMessage(msg, secret);
  } catch {
    return false;
  }
  // Both are 32 bytes here, so timingSafeEqual cannot throw on a length mismatch.
  return timingSafeEqual(Buffer.from(given, 'hex'), Buffer.from(expected, 'hex'));
}
