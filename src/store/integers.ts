import { PaymentError } from '../internal/errors.js';

/**
 * BIGINT columns (block numbers, unix-ms times, ids) are read as JS numbers on both drivers. A value
 * past 2^53 cannot be one of ours, and rounding it silently could move money to the wrong row, so
 * reading one fails the query instead.
 */
export function toSafeNumber(value: bigint | string, column: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new PaymentError('db_integer_range', `column ${column} holds ${value}, beyond a safe JS integer`);
  }
  return n;
}
