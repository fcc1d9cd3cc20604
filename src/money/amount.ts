import { PaymentError } from '../internal/errors.js';

/**
 * Amounts cross the edges of the service as decimal text ("100.5", or a JSON number's source text
 * such as "1.5E3") and live inside as bigint base units. Nothing here ever goes through a float:
 * the text is split into digits and a power of ten, and scaled with bigint arithmetic.
 */

/** Longer input is refused before any work: no real amount needs more, and it bounds the cost. */
const MAX_TEXT_LENGTH = 80;

/** An ERC-20 amount is a uint256; anything larger cannot be sent, so it is refused as invalid. */
const MAX_RAW = (1n << 256n) - 1n;
const MAX_RAW_DIGITS = MAX_RAW.toString().length;

/** Plain decimal with optional JSON-style exponent; a leading '-' is matched only to say "negative". */
const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

function invalid(message: string): PaymentError {
  return new PaymentError('invalid_amount', message);
}

function checkDecimals(decimals: number): void {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 255) {
    throw new RangeError(`decimals must be an integer from 0 to 255, got ${decimals}`);
  }
}

/**
 * Converts decimal text to base units of a token with `decimals` decimals.
 * Throws PaymentError `invalid_amount` for anything that is not a positive amount the token can hold
 * exactly: not a decimal, zero, negative, more significant fractional digits than `decimals`, too big.
 */
export function parseAmount(text: string, decimals: number): bigint {
  checkDecimals(decimals);
  if (text.length > MAX_TEXT_LENGTH) throw invalid(`amount is longer than ${MAX_TEXT_LENGTH} characters`);
  const match = DECIMAL.exec(text);
  if (!match) throw invalid(`amount ${JSON.stringify(text)} is not a decimal number`);
  const [, minus, intPart = '', fracPart = '', expPart = '0'] = match;
  // The exponent's digits are bounded by the length limit, so Number() is exact here.
  const exponent = Number(expPart);

  // value = digits × 10^-scale
  let digits = (intPart + fracPart).replace(/^0+/, '');
  if (digits === '') throw invalid('amount must be greater than zero');
  if (minus === '-') throw invalid('amount must be positive');
  let scale = fracPart.length - exponent;
  const trimmed = digits.replace(/0+$/, '');
  scale -= digits.length - trimmed.length;
  digits = trimmed;

  if (scale > decimals) {
    throw invalid(`amount ${text} has more than ${decimals} decimal places`);
  }
  const shift = decimals - scale;
  // Checked before computing 10^shift so that "1e999999" costs nothing.
  if (digits.length + shift > MAX_RAW_DIGITS) throw invalid(`amount ${text} is too large`);
  const raw = BigInt(digits) * 10n ** BigInt(shift);
  if (raw > MAX_RAW) throw invalid(`amount ${text} is too large`);
  return raw;
}

/**
 * Base units to the shortest exact decimal text: no exponent, no trailing fractional zeros,
 * "0" for zero ("100.5", "0.000001", "100"). Negative values get a leading '-'.
 */
export function formatAmount(raw: bigint, decimals: number): string {
  checkDecimals(decimals);
  const sign = raw < 0n ? '-' : '';
  const digits = (raw < 0n ? -raw : raw).toString();
  if (decimals === 0) return sign + digits;
  const padded = digits.padStart(decimals + 1, '0');
  const intPart = padded.slice(0, padded.length - decimals);
  const fracPart = padded.slice(padded.length - decimals).replace(/0+$/, '');
  return sign + (fracPart === '' ? intPart : `${intPart}.${fracPart}`);
}

/**
 * Decimal text (the grammar `parseAmount` reads, a leading '-' allowed) to its exact plain form, as
 * `formatAmount` writes: no exponent, no leading zeros, no trailing fractional zeros ("100.50" → "100.5",
 * "1e-7" → "0.0000001", "-0" → "0"). Undefined when the text is no such decimal, is longer than 80
 * characters, or its plain form would be longer than `maxLength` ("1e-200").
 */
export function plainDecimal(text: string, maxLength: number): string | undefined {
  if (text.length > MAX_TEXT_LENGTH) return undefined;
  const match = DECIMAL.exec(text);
  if (!match) return undefined;
  const [, minus = '', intPart = '', fracPart = '', expPart = '0'] = match;
  // value = digits × 10^-scale, digits without leading or trailing zeros
  const significant = (intPart + fracPart).replace(/^0+/, '');
  const digits = significant.replace(/0+$/, '');
  if (digits === '') return '0';
  const scale = fracPart.length - Number(expPart) - (significant.length - digits.length);
  const unsigned = scale <= 0 ? digits.length - scale : Math.max(scale, digits.length - 1) + 2;
  if (minus.length + unsigned > maxLength) return undefined;
  if (scale <= 0) return minus + digits + '0'.repeat(-scale);
  const padded = digits.padStart(scale + 1, '0');
  return `${minus}${padded.slice(0, -scale)}.${padded.slice(-scale)}`;
}
