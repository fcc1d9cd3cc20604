import { describe, expect, it } from 'vitest';
import { NATIVE_ADDRESS_LC } from '../config/chains.js';
import type { TokenConfig } from '../config/types.js';
import { jsonNumber, stringifyMessage } from './json.js';
import { type ValidationContext, validatePay, validateTopup, validateWithdraw } from './messages.js';
import { signMessage } from './sign.js';

const SECRET = 'secret';
const NOW = 1_758_610_297;
const USDT: TokenConfig = {
  symbol: 'USDT',
  addressLc: '0xdac17f958d2ee523a2206206994597c13d831ec7',
  decimals: 6,
};
const ctx: ValidationContext = {
  secret: SECRET,
  signWindowS: 86_400,
  chains: [{ name: 'ETH', assets: [USDT] }],
  nowS: NOW,
};

const FROM = '0xAbCdEf0123456789aBcDeF0123456789ABCDEF01';
const TO = '0x1111111111111111111111111111111111111111';

/** Signs and writes a message; `raw` values are written as JSON numbers with exactly that text. */
function signed(fields: Record<string, unknown>, raw: Record<string, string> = {}): string {
  const numbers = Object.fromEntries(Object.entries(raw).map(([key, text]) => [key, jsonNumber(text)]));
  const msg = { ...fields, ...numbers };
  return stringifyMessage({ ...msg, sign: signMessage(msg, SECRET) });
}

const topup = { chain: 'ETH', symbol: 'USDT', address: FROM, timestamp: NOW };
const withdraw = {
  queue_id: 'q-1',
  from_address: FROM,
  to_address: TO,
  chain: 'ETH',
  symbol: 'USDT',
  timestamp: NOW,
};

describe('validateTopup', () => {
  it('accepts a signed request and lowercases the address', () => {
    const result = validateTopup(signed(topup), ctx);
    expect(result).toEqual({
      kind: 'ok',
      request: {
        type: 'topup',
        chain: 'ETH',
        chainName: 'ETH',
        symbol: 'USDT',
        token: USDT,
        addressLc: FROM.toLowerCase(),
        timestamp: NOW,
      },
    });
  });

  it('accepts bytes and case-insensitive chain/symbol, echoing them as sent', () => {
    const result = validateTopup(Buffer.from(signed({ ...topup, chain: 'eth', symbol: 'usdt' })), ctx);
    expect(result.kind).toBe('ok');
    if (result.kind === 'ok') {
      expect([result.request.chain, result.request.symbol]).toEqual(['eth', 'usdt']);
      expect(result.request.chainName).toBe('ETH');
    }
  });

  it('rejects what cannot be answered', () => {
    expect(validateTopup('{"a":', ctx)).toEqual({
      kind: 'reject',
      reason: "invalid JSON: Object value expected after ':' at position 5",
    });
    expect(validateTopup('[1]', ctx)).toEqual({ kind: 'reject', reason: 'message is not a JSON object' });
    expect(validateTopup(new Uint8Array([0x7b, 0xff, 0x7d]), ctx)).toEqual({
      kind: 'reject',
      reason: 'message is not valid UTF-8',
    });
    const { address: _a, ...noAddress } = topup;
    expect(validateTopup(signed(noAddress), ctx)).toEqual({
      kind: 'reject',
      reason: 'missing field address',
    });
    expect(validateTopup(stringifyMessage(topup), ctx)).toEqual({
      kind: 'reject',
      reason: 'missing field sign',
    });
    const tampered = signed(topup).replace('"ETH"', '"BSC"');
    expect(validateTopup(tampered, ctx)).toEqual({ kind: 'reject', reason: 'bad signature' });
    const nested = stringifyMessage({ ...topup, extra: { a: 1 }, sign: 'ab'.repeat(32) });
    expect(validateTopup(nested, ctx)).toEqual({
      kind: 'reject',
      reason: 'bad signature: field extra is an object',
    });
  });

  it('counts the 64 KiB limit in UTF-8 bytes, text or bytes alike', () => {
    // 22,000 characters of 3 bytes each: under the limit in characters, over it in bytes.
    const big = signed({ ...topup, note: '€'.repeat(22_000) });
    expect(big.length).toBeLessThan(65_536);
    const reason = 'message larger than 65536 bytes';
    expect(validateTopup(big, ctx)).toEqual({ kind: 'reject', reason });
    expect(validateTopup(Buffer.from(big), ctx)).toEqual({ kind: 'reject', reason });
    expect(validateTopup(signed({ ...topup, note: '€'.repeat(20_000) }), ctx).kind).toBe('ok');
  });

  it('refuses signed requests it cannot carry out', () => {
    const answer = { type: 'topup', address: FROM.toLowerCase(), chain: 'ETH', symbol: 'USDT' };
    expect(validateTopup(signed({ ...topup, chain: 'BSC' }), ctx)).toMatchObject({
      kind: 'refuse',
      code: 'unknown_chain',
      request: { ...answer, chain: 'BSC' },
    });
    expect(validateTopup(signed({ ...topup, symbol: 'DAI' }), ctx)).toMatchObject({
      kind: 'refuse',
      code: 'unknown_token',
      message: 'unknown token "DAI" on ETH; known: USDT',
    });
    expect(validateTopup(signed({ ...topup, address: '0x12' }), ctx)).toMatchObject({
      kind: 'refuse',
      code: 'invalid_address',
      request: { ...answer, address: '0x12' },
    });
  });
});

describe('timestamp window', () => {
  it('refuses a timestamp further than the window from now, as number or string', () => {
    expect(validateTopup(signed({ ...topup, timestamp: NOW - 86_401 }), ctx)).toMatchObject({
      kind: 'refuse',
      code: 'expired',
    });
    expect(validateTopup(signed({ ...topup, timestamp: String(NOW + 86_401) }), ctx)).toMatchObject({
      code: 'expired',
    });
    expect(validateTopup(signed({ ...topup, timestamp: String(NOW + 86_400) }), ctx)).toMatchObject({
      kind: 'ok',
      request: { timestamp: NOW + 86_400 },
    });
    expect(validateTopup(signed({ ...topup, timestamp: 'soon' }), ctx)).toMatchObject({ code: 'expired' });
    const { timestamp: _t, ...noTimestamp } = topup;
    expect(validateTopup(signed(noTimestamp), ctx)).toMatchObject({
      code: 'expired',
      message: 'missing timestamp',
    });
  });

  it('is off when signWindowS is 0', () => {
    const off = { ...ctx, signWindowS: 0 };
    expect(validateTopup(signed({ ...topup, timestamp: 1 }), off)).toMatchObject({ kind: 'ok' });
    const { timestamp: _t, ...noTimestamp } = topup;
    expect(validateTopup(signed(noTimestamp), off)).toMatchObject({
      kind: 'ok',
      request: { timestamp: undefined },
    });
  });
});

describe('routing across chains', () => {
  const BSC_USDT = {
    symbol: 'USDT',
    addressLc: '0x55d398326f99059ff775485246999027b3197955',
    decimals: 18,
  } as const;
  const BNB = { symbol: 'BNB', addressLc: NATIVE_ADDRESS_LC, decimals: 18 } as const;
  const two: ValidationContext = {
    ...ctx,
    chains: [
      { name: 'ETH', assets: [USDT] },
      { name: 'BSC', assets: [BSC_USDT, BNB] },
    ],
  };

  it("selects the chain by `chain` and the token or native coin by `symbol`, with that chain's decimals", () => {
    const usdt = validateWithdraw(
      signed({ ...withdraw, chain: 'bsc' }, { amount: '1.000000000000000001' }),
      two,
    );
    expect(usdt).toMatchObject({ kind: 'ok', request: { chain: 'bsc', chainName: 'BSC', token: BSC_USDT } });
    if (usdt.kind === 'ok') expect(usdt.request.amountRaw).toBe(10n ** 18n + 1n);
    const bnb = validateTopup(signed({ ...topup, chain: 'BSC', symbol: 'bnb' }), two);
    expect(bnb).toMatchObject({ kind: 'ok', request: { chainName: 'BSC', symbol: 'bnb', token: BNB } });
  });

  it('refuses a symbol the named chain lacks, and a chain that is not configured', () => {
    expect(validateTopup(signed({ ...topup, symbol: 'BNB' }), two)).toMatchObject({
      kind: 'refuse',
      code: 'unknown_token',
      message: 'unknown token "BNB" on ETH; known: USDT',
    });
    expect(validateTopup(signed({ ...topup, chain: 'TRON' }), two)).toMatchObject({
      kind: 'refuse',
      code: 'unknown_chain',
      message: 'unknown chain "TRON"; this service answers to ETH, BSC',
    });
  });
});

describe('validateWithdraw', () => {
  it('converts a JSON number amount exactly from its source text', () => {
    const result = validateWithdraw(signed(withdraw, { amount: '123456789.123456' }), ctx);
    expect(result).toEqual({
      kind: 'ok',
      request: {
        type: 'withdraw',
        queueId: 'q-1',
        chain: 'ETH',
        chainName: 'ETH',
        symbol: 'USDT',
        token: USDT,
        fromAddressLc: FROM.toLowerCase(),
        toAddressLc: TO,
        amountRaw: 123456789123456n,
        amountText: '123456789.123456',
        timestamp: NOW,
      },
    });
  });

  it('accepts amounts as decimal strings and exponent numbers, normalising the text', () => {
    const asString = validateWithdraw(signed({ ...withdraw, amount: '100.50' }), ctx);
    expect(asString).toMatchObject({ kind: 'ok', request: { amountRaw: 100_500_000n, amountText: '100.5' } });
    const asExponent = validateWithdraw(signed(withdraw, { amount: '1.5E3' }), ctx);
    expect(asExponent).toMatchObject({
      kind: 'ok',
      request: { amountRaw: 1_500_000_000n, amountText: '1500' },
    });
    const trailing = validateWithdraw(signed(withdraw, { amount: '1.500000000' }), ctx);
    expect(trailing).toMatchObject({ kind: 'ok', request: { amountRaw: 1_500_000n } });
  });

  it('rejects ids with half a surrogate pair, which could not be stored and echoed as sent', () => {
    const body = signed({ ...withdraw, queue_id: 'q-\ud800', amount: '1' });
    expect(body).toContain('"queue_id":"q-\\ud800"');
    expect(validateWithdraw(body, ctx)).toEqual({
      kind: 'reject',
      reason: 'field queue_id is not valid Unicode',
    });
    expect(validatePay(signed({ ...withdraw, order_id: '\udc00', amount: '1' }), ctx)).toEqual({
      kind: 'reject',
      reason: 'field order_id is not valid Unicode',
    });
    expect(validateWithdraw(signed({ ...withdraw, queue_id: 'q-\u{1F600}', amount: '1' }), ctx).kind).toBe(
      'ok',
    );
  });

  it('rejects a missing or non-string queue_id', () => {
    const { queue_id: _q, ...noQueue } = withdraw;
    expect(validateWithdraw(signed({ ...noQueue, amount: '1' }), ctx)).toEqual({
      kind: 'reject',
      reason: 'missing field queue_id',
    });
    expect(validateWithdraw(signed({ ...withdraw, queue_id: 5, amount: '1' }), ctx)).toEqual({
      kind: 'reject',
      reason: 'field queue_id is not a string',
    });
  });

  it('refuses bad amounts, echoing what can be echoed as a JSON number', () => {
    const cases: [Record<string, unknown>, Record<string, string>, string, string][] = [
      [withdraw, { amount: '0' }, 'amount must be greater than zero', '0'],
      [withdraw, { amount: '-5' }, 'amount must be positive', '-5'],
      [withdraw, { amount: '1.0000001' }, 'amount 1.0000001 has more than 6 decimal places', '1.0000001'],
      [{ ...withdraw, amount: 'abc' }, {}, 'amount "abc" is not a decimal number', '0'],
      [withdraw, {}, 'amount is missing or not a number', '0'],
    ];
    for (const [fields, raw, message, echoed] of cases) {
      const result = validateWithdraw(signed(fields, raw), ctx);
      expect(result).toMatchObject({ kind: 'refuse', code: 'invalid_amount', message });
      if (result.kind === 'refuse') expect(result.request.amountText).toBe(echoed);
    }
  });

  it('echoes a refused amount as its exact plain decimal, as an accepted one is answered', () => {
    const cases: [Record<string, unknown>, Record<string, string>, string][] = [
      // Too many decimals for USDT's 6: refused, echoed without the exponent.
      [withdraw, { amount: '1e-7' }, '0.0000001'],
      [withdraw, { amount: '1.00000010' }, '1.0000001'],
      [withdraw, { amount: '-2.50' }, '-2.5'],
      [withdraw, { amount: '0.000' }, '0'],
      [{ ...withdraw, amount: '1E-9' }, {}, '0.000000001'],
      // Valid amounts refused for another reason: the same text an acceptance would carry.
      [{ ...withdraw, to_address: 'nope' }, { amount: '100.50' }, '100.5'],
      [{ ...withdraw, to_address: 'nope' }, { amount: '1.5E3' }, '1500'],
      [{ ...withdraw, to_address: 'nope', amount: '007.10' }, {}, '7.1'],
      // No number to write: 0, the field stays a JSON number.
      [{ ...withdraw, amount: '1e-200' }, {}, '0'],
      [{ ...withdraw, amount: 'abc' }, {}, '0'],
    ];
    for (const [fields, raw, echoed] of cases) {
      const result = validateWithdraw(signed(fields, raw), ctx);
      expect(result.kind).toBe('refuse');
      if (result.kind === 'refuse')
        expect([raw, fields.amount, result.request.amountText]).toEqual([raw, fields.amount, echoed]);
    }
    const accepted = validateWithdraw(signed(withdraw, { amount: '100.50' }), ctx);
    expect(accepted).toMatchObject({ kind: 'ok', request: { amountText: '100.5' } });
  });

  it('matches chain and symbol in any letter case and keeps them as sent', () => {
    const result = validateWithdraw(
      signed({ ...withdraw, chain: 'eth', symbol: 'uSdT' }, { amount: '1' }),
      ctx,
    );
    expect(result).toMatchObject({ kind: 'ok', request: { chain: 'eth', symbol: 'uSdT', token: USDT } });
  });

  it('refuses bad addresses with the answer fields filled in', () => {
    const result = validateWithdraw(signed({ ...withdraw, to_address: 'nope', amount: '1' }), ctx);
    expect(result).toEqual({
      kind: 'refuse',
      code: 'invalid_address',
      message: 'to_address "nope" is not a 0x-prefixed 20-byte hex address',
      request: {
        type: 'withdraw',
        queueId: 'q-1',
        chain: 'ETH',
        symbol: 'USDT',
        fromAddress: FROM.toLowerCase(),
        toAddress: 'nope',
        amountText: '1',
      },
    });
  });
});

describe('validatePay', () => {
  it('carries order_id', () => {
    const result = validatePay(signed({ ...withdraw, order_id: 'o-9' }, { amount: '2' }), ctx);
    expect(result).toMatchObject({
      kind: 'ok',
      request: { type: 'pay', orderId: 'o-9', amountRaw: 2_000_000n },
    });
  });

  it('rejects without order_id and refuses with it', () => {
    expect(validatePay(signed(withdraw, { amount: '2' }), ctx)).toEqual({
      kind: 'reject',
      reason: 'missing field order_id',
    });
    const refused = validatePay(
      signed({ ...withdraw, order_id: 'o-9', chain: 'TRON' }, { amount: '2' }),
      ctx,
    );
    expect(refused).toMatchObject({
      kind: 'refuse',
      code: 'unknown_chain',
      request: { type: 'pay', orderId: 'o-9', queueId: 'q-1', chain: 'TRON', amountText: '2' },
    });
  });
});
