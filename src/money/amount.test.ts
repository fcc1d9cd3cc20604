import { describe, expect, it } from 'vitest';
import { PaymentError } from '../internal/errors.js';
import { formatAmount, parseAmount, plainDecimal } from './amount.js';

function refusal(text: string, decimals: number): string {
  try {
    parseAmount(text, decimals);
  } catch (err) {
    expect(err).toBeInstanceOf(PaymentError);
    expect((err as PaymentError).code).toBe('invalid_amount');
    return (err as PaymentError).message;
  }
  throw new Error(`parseAmount(${text}) did not throw`);
}

describe('parseAmount', () => {
  it('converts plain decimals exactly', () => {
    expect(parseAmount('100', 6)).toBe(100_000_000n);
    expect(parseAmount('100.5', 6)).toBe(100_500_000n);
    expect(parseAmount('0.000001', 6)).toBe(1n);
    expect(parseAmount('123456789.123456', 6)).toBe(123456789123456n);
    expect(parseAmount('0.1', 18)).toBe(100_000_000_000_000_000n);
    expect(parseAmount('007.5', 1)).toBe(75n);
    expect(parseAmount('5', 0)).toBe(5n);
  });

  it('ignores trailing fractional zeros when counting decimals', () => {
    expect(parseAmount('1.500000000', 6)).toBe(1_500_000n);
    expect(parseAmount('100.50', 6)).toBe(100_500_000n);
    expect(parseAmount('50.0', 0)).toBe(50n);
  });

  it('converts exponent forms exactly', () => {
    expect(parseAmount('1e-6', 6)).toBe(1n);
    expect(parseAmount('1.5E3', 6)).toBe(1_500_000_000n);
    expect(parseAmount('1.5e+3', 0)).toBe(1500n);
    expect(parseAmount('12345e-2', 2)).toBe(12345n);
    expect(parseAmount('0.0001e4', 0)).toBe(1n);
    // 0.1 + 0.2 style float traps do not exist here
    expect(parseAmount('0.3', 18)).toBe(300_000_000_000_000_000n);
  });

  it('refuses what is not a positive decimal the token can hold', () => {
    expect(refusal('0', 6)).toMatch(/greater than zero/);
    expect(refusal('0.000', 6)).toMatch(/greater than zero/);
    expect(refusal('0e5', 6)).toMatch(/greater than zero/);
    expect(refusal('-1', 6)).toMatch(/positive/);
    expect(refusal('1.0000001', 6)).toMatch(/more than 6 decimal places/);
    expect(refusal('1e-7', 6)).toMatch(/more than 6 decimal places/);
    expect(refusal('0.5', 0)).toMatch(/more than 0 decimal places/);
    for (const bad of [
      '',
      'abc',
      '1.',
      '.5',
      ' 1',
      '1 ',
      '+1',
      '1,5',
      '0x10',
      'NaN',
      'Infinity',
      '1e',
      '1..2',
    ]) {
      expect(refusal(bad, 6)).toMatch(/not a decimal number/);
    }
    expect(refusal('1'.repeat(81), 6)).toMatch(/longer than 80/);
    expect(refusal('1e999999999', 6)).toMatch(/too large/);
    expect(refusal('1e72', 6)).toMatch(/too large/);
    expect(parseAmount('1e71', 6)).toBe(10n ** 77n);
  });

  it('rejects impossible decimals as a programming error', () => {
    expect(() => parseAmount('1', -1)).toThrow(RangeError);
    expect(() => parseAmount('1', 1.5)).toThrow(RangeError);
  });
});

describe('formatAmount', () => {
  it('writes the shortest exact decimal', () => {
    expect(formatAmount(100_500_000n, 6)).toBe('100.5');
    expect(formatAmount(1n, 6)).toBe('0.000001');
    expect(formatAmount(100_000_000n, 6)).toBe('100');
    expect(formatAmount(0n, 6)).toBe('0');
    expect(formatAmount(0n, 0)).toBe('0');
    expect(formatAmount(42n, 0)).toBe('42');
    expect(formatAmount(123456789123456n, 6)).toBe('123456789.123456');
    expect(formatAmount(21_000n * 1_000_000_000n, 18)).toBe('0.000021');
    expect(formatAmount(-1_500_000n, 6)).toBe('-1.5');
  });

  it('round-trips with parseAmount', () => {
    for (const text of ['1', '0.000001', '100.5', '123456789.123456', '99999999999999999999.999999']) {
      expect(formatAmount(parseAmount(text, 6), 6)).toBe(text);
    }
  });
});

describe('plainDecimal', () => {
  it('writes any decimal text exactly, as formatAmount would, whatever the decimals', () => {
    const cases: [string, string][] = [
      ['100.50', '100.5'],
      ['1e-7', '0.0000001'],
      ['1.5E3', '1500'],
      ['12E-1', '1.2'],
      ['007.10', '7.1'],
      ['0.000', '0'],
      ['-0', '0'],
      ['-2.50', '-2.5'],
      ['10', '10'],
      ['0.01e2', '1'],
      ['123456789.123456', '123456789.123456'],
    ];
    for (const [text, plain] of cases) expect([text, plainDecimal(text, 100)]).toEqual([text, plain]);
    for (const text of ['1', '0.000001', '100.5', '99999999999999999999.999999'])
      expect(plainDecimal(text, 100)).toBe(formatAmount(parseAmount(text, 6), 6));
  });

  it('gives nothing for what is not a decimal, or too long to write', () => {
    for (const text of ['', 'abc', '1.', '.5', '+1', '1e', '0x10', ' 1', `1${'0'.repeat(80)}`])
      expect([text, plainDecimal(text, 100)]).toEqual([text, undefined]);
    expect(plainDecimal('1e-200', 100)).toBeUndefined();
    expect(plainDecimal('1e999999', 100)).toBeUndefined();
    expect(plainDecimal('1e99', 100)).toBe(`1${'0'.repeat(99)}`);
    expect(plainDecimal('1e-98', 100)).toBe(`0.${'0'.repeat(97)}1`);
    expect(plainDecimal('-1e-98', 100)).toBeUndefined();
    expect(plainDecimal('1e100', 100)).toBeUndefined();
  });
});
