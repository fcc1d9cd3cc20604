import { describe, expect, it } from 'vitest';
import {
  isJsonNumber,
  isJsonObject,
  jsonNumber,
  parseJsonLossless,
  readNumberText,
  readString,
  stringifyMessage,
} from './json.js';

describe('parseJsonLossless', () => {
  it('keeps the source text of numbers', () => {
    const parsed = parseJsonLossless('{"amount":100.50,"big":123456789012345678901234567890,"e":1.5E3}');
    expect(isJsonObject(parsed)).toBe(true);
    if (!isJsonObject(parsed)) return;
    expect(isJsonNumber(parsed.amount)).toBe(true);
    expect(readNumberText(parsed, 'amount')).toBe('100.50');
    expect(readNumberText(parsed, 'big')).toBe('123456789012345678901234567890');
    expect(readNumberText(parsed, 'e')).toBe('1.5E3');
  });

  it('throws SyntaxError with a position for invalid JSON and duplicate keys', () => {
    expect(() => parseJsonLossless('{"a":')).toThrow(/position 5/);
    expect(() => parseJsonLossless('{"a":1,"a":2}')).toThrow(/Duplicate key/);
    expect(() => parseJsonLossless('')).toThrow(SyntaxError);
  });

  it('does not let __proto__ change the prototype', () => {
    const parsed = parseJsonLossless('{"__proto__":{"polluted":1}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('field readers', () => {
  const msg = parseJsonLossless('{"s":"x","n":5,"ns":"7.5","b":true,"o":{}}') as Record<string, unknown>;
  it('read strings and number text', () => {
    expect(readString(msg, 's')).toBe('x');
    expect(readString(msg, 'n')).toBeUndefined();
    expect(readNumberText(msg, 'n')).toBe('5');
    expect(readNumberText(msg, 'ns')).toBe('7.5');
    expect(readNumberText(msg, 'b')).toBeUndefined();
    expect(readNumberText(msg, 'o')).toBeUndefined();
    expect(readString(msg, 'toString')).toBeUndefined();
  });
});

describe('stringifyMessage', () => {
  it('writes JsonNumbers raw and everything else as JSON', () => {
    const text = stringifyMessage({
      amount: jsonNumber('123456789.123456'),
      fee: jsonNumber('0.000021'),
      height: 19_000_000n,
      status: 1,
      tx: '',
      quote: 'a"b',
      skipped: undefined,
      nil: null,
      list: [1, 'x', undefined],
    });
    expect(text).toBe(
      '{"amount":123456789.123456,"fee":0.000021,"height":19000000,"status":1,"tx":"","quote":"a\\"b","nil":null,"list":[1,"x",null]}',
    );
  });

  it('round-trips parsed messages unchanged', () => {
    const text = '{"amount":100.50,"a":"x","n":1e3}';
    expect(stringifyMessage(parseJsonLossless(text))).toBe(text);
  });

  it('refuses what JSON cannot hold', () => {
    expect(() => stringifyMessage({ a: Number.NaN })).toThrow(TypeError);
    expect(() => jsonNumber('1.')).toThrow(TypeError);
    expect(() => jsonNumber('abc')).toThrow(TypeError);
  });
});
