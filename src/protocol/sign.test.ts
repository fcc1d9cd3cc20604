import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { jsonNumber, parseJsonLossless } from './json.js';
import { canonicalNumber, canonicalString, signMessage, verifySignature, withSignature } from './sign.js';

const SECRET = 'test-secret';

describe('canonicalString', () => {
  it('matches the PROTOCOL example', () => {
    const msg = parseJsonLossless(
      '{"address":"0xab","chain":"ETH","symbol":"USDT","timestamp":1758610297}',
    ) as Record<string, unknown>;
    expect(canonicalString(msg)).toBe('address=0xab&chain=ETH&symbol=USDT&timestamp=1758610297');
  });

  it('leaves out sign, null, undefined and empty strings and sorts keys by byte order', () => {
    const msg = {
      b: '2',
      a: '1',
      sign: 'x',
      n: null,
      u: undefined,
      e: '',
      Z: 'upper',
      _: 'u',
      t: true,
      f: false,
    };
    expect(canonicalString(msg)).toBe('Z=upper&_=u&a=1&b=2&f=false&t=true');
  });

  // Big integers are written from their float64 too (2^70 → 1180591620717411300000), as Go does.
  it('writes numbers from their float64 value, without exponent', () => {
    const msg = parseJsonLossless(
      '{"a":50.0,"b":100.50,"c":1e21,"d":1e-7,"e":0.1,"f":-2.5e-3,"g":1.5E3}',
    ) as Record<string, unknown>;
    expect(canonicalString(msg)).toBe(
      'a=50&b=100.5&c=1000000000000000000000&d=0.0000001&e=0.1&f=-0.0025&g=1500',
    );
    expect(canonicalString({ n: 123456789.123456, big: 2n ** 70n })).toBe(
      'big=1180591620717411300000&n=123456789.123456',
    );
  });

  it('keeps numeric strings as they are', () => {
    expect(canonicalString({ amount: '100.50', timestamp: '1758610297' })).toBe(
      'amount=100.50&timestamp=1758610297',
    );
  });

  it('refuses nested values and non-finite numbers', () => {
    expect(() => canonicalString({ a: { b: 1 } })).toThrow(/field a is an object/);
    expect(() => canonicalString({ a: [1] })).toThrow(/field a is a list/);
    expect(() => canonicalString({ a: jsonNumber('1e400') })).toThrow(/Infinity/);
  });
});

describe('canonicalNumber', () => {
  it.each([
    [0, '0'],
    [1e21, '1000000000000000000000'],
    [1.5e300, `15${'0'.repeat(299)}`],
    [1e-7, '0.0000001'],
    [1.25e-10, '0.000000000125'],
    [5e-324, `0.${'0'.repeat(323)}5`],
    [-1e21, '-1000000000000000000000'],
    [123.456, '123.456'],
    [0.1 + 0.2, '0.30000000000000004'],
  ])('%s → %s', (n, text) => {
    expect(canonicalNumber(n)).toBe(text);
  });
});

describe('signMessage / verifySignature', () => {
  const msg = { address: '0xab', chain: 'ETH', symbol: 'USDT', timestamp: 1758610297 };

  it('is the lowercase hex HMAC-SHA256 of the canonical string', () => {
    const expected = createHmac('sha256', SECRET)
      .update('address=0xab&chain=ETH&symbol=USDT&timestamp=1758610297')
      .digest('hex');
    expect(signMessage(msg, SECRET)).toBe(expected);
    expect(expected).toMatch(/^[0-9a-f]{64}$/);
  });

  it('verifies a signed message, whatever the number spelling', () => {
    const signed = withSignature(msg, SECRET);
    expect(verifySignature(signed, SECRET)).toBe(true);
    expect(verifySignature({ ...signed, sign: signed.sign.toUpperCase() }, SECRET)).toBe(true);
    const respelled = parseJsonLossless(
      `{"timestamp":1758610297.0,"symbol":"USDT","chain":"ETH","address":"0xab","sign":"${signed.sign}"}`,
    ) as Record<string, unknown>;
    expect(verifySignature(respelled, SECRET)).toBe(true);
  });

  it('fails for a changed field, another secret, or a malformed sign', () => {
    const signed = withSignature(msg, SECRET);
    expect(verifySignature({ ...signed, chain: 'BSC' }, SECRET)).toBe(false);
    expect(verifySignature({ ...signed, extra: 'x' }, SECRET)).toBe(false);
    expect(verifySignature(signed, 'other')).toBe(false);
    expect(verifySignature({ ...signed, sign: signed.sign.slice(2) }, SECRET)).toBe(false);
    expect(verifySignature({ ...signed, sign: `${signed.sign.slice(0, 62)}zz` }, SECRET)).toBe(false);
    expect(verifySignature({ ...signed, sign: 5 }, SECRET)).toBe(false);
    expect(verifySignature(msg, SECRET)).toBe(false);
    expect(verifySignature({ ...signed, nested: {} }, SECRET)).toBe(false);
  });
});
