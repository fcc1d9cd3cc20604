import { describe, expect, it } from 'vitest';
import { isJsonObject, parseJsonLossless } from './json.js';
import { payResponse, topupRefusalResponse, topupResponse, withdrawResponse } from './responses.js';
import { verifySignature } from './sign.js';

const SECRET = 'secret';
const NOW = 1_758_610_297;
const sign = { secret: SECRET, nowS: NOW };

function parseBack(text: string): Record<string, unknown> {
  const parsed = parseJsonLossless(text);
  if (!isJsonObject(parsed)) throw new Error('not an object');
  return parsed;
}

describe('topupResponse', () => {
  const text = topupResponse(
    {
      address: '0xaa',
      status: 2,
      chain: 'ETH',
      symbol: 'USDT',
      amountRaw: 123456789123456n,
      decimals: 6,
      txHash: '0xhash',
      logIndex: 3,
      blockHeight: 19_000_000n,
      fromAddress: '0xbb',
    },
    sign,
  );

  it('writes the fields in order, amount as an exact JSON number', () => {
    expect(text).toMatch(
      /^\{"address":"0xaa","status":2,"chain":"ETH","symbol":"USDT","amount":123456789.123456,"tx_hash":"0xhash","log_index":3,"block_height":19000000,"from_address":"0xbb","timestamp":1758610297,"sign":"[0-9a-f]{64}"\}$/,
    );
  });

  it('leaves log_index out for a native-coin deposit, and writes 18 decimals exactly', () => {
    const native = topupResponse(
      {
        address: '0xaa',
        status: 1,
        chain: 'BSC',
        symbol: 'BNB',
        amountRaw: 10n ** 18n + 1n,
        decimals: 18,
        txHash: '0xhash',
        logIndex: undefined,
        blockHeight: 7,
        fromAddress: '0xbb',
      },
      sign,
    );
    expect(native).toMatch(
      /^\{"address":"0xaa","status":1,"chain":"BSC","symbol":"BNB","amount":1.000000000000000001,"tx_hash":"0xhash","block_height":7,"from_address":"0xbb",/,
    );
    expect(verifySignature(JSON.parse(native), SECRET)).toBe(true);
  });

  it('verifies after being parsed back, losslessly or with plain JSON.parse', () => {
    expect(verifySignature(parseBack(text), SECRET)).toBe(true);
    expect(verifySignature(JSON.parse(text), SECRET)).toBe(true);
    expect(verifySignature(parseBack(text), 'other')).toBe(false);
  });

  it('writes a refusal with error fields', () => {
    const refusal = topupRefusalResponse(
      {
        address: '0x12',
        chain: 'BSC',
        symbol: 'USDT',
        error: 'unknown_chain',
        errorMessage: 'no\nsuch chain',
      },
      sign,
    );
    const parsed = parseBack(refusal);
    expect(parsed).toMatchObject({
      status: expect.anything(),
      error: 'unknown_chain',
      error_message: 'no such chain',
    });
    expect(verifySignature(parsed, SECRET)).toBe(true);
  });
});

describe('withdrawResponse / payResponse', () => {
  const base = {
    queueId: 'q-1',
    amountText: '100.5',
    chain: 'ETH',
    symbol: 'USDT',
    txHash: '0xabc',
    fromAddress: '0xaa',
    toAddress: '0xbb',
    feeWei: 21_000n * 1_000_000_007n,
    feeDecimals: 18,
  };

  it('writes a success without error fields, fee in ether', () => {
    const text = withdrawResponse({ ...base, status: 1 }, sign);
    expect(text).toMatch(
      /^\{"queue_id":"q-1","status":1,"amount":100.5,"chain":"ETH","symbol":"USDT","tx_hash":"0xabc","from_address":"0xaa","to_address":"0xbb","fee":0.000021000000147,"timestamp":1758610297,"sign":"[0-9a-f]{64}"\}$/,
    );
    expect(verifySignature(parseBack(text), SECRET)).toBe(true);
  });

  it('writes a failure with error and a one-line error_message, empty tx_hash and zero fee', () => {
    const text = withdrawResponse(
      {
        ...base,
        txHash: '',
        feeWei: 0n,
        status: 0,
        error: 'insufficient_funds',
        errorMessage: 'balance 1 < 100.5\n  at wallet',
      },
      sign,
    );
    const parsed = parseBack(text);
    expect(text).toContain('"tx_hash":"","from_address":"0xaa","to_address":"0xbb","fee":0,');
    expect(parsed.error).toBe('insufficient_funds');
    expect(parsed.error_message).toBe('balance 1 < 100.5 at wallet');
    expect(verifySignature(parsed, SECRET)).toBe(true);
  });

  it('adds order_id for pay', () => {
    const text = payResponse({ ...base, orderId: 'o-9', status: 1 }, sign);
    expect(text.startsWith('{"queue_id":"q-1","order_id":"o-9","status":1,"amount":100.5,')).toBe(true);
    expect(verifySignature(parseBack(text), SECRET)).toBe(true);
  });

  it('writes big amounts exactly, even past float64 precision', () => {
    const text = withdrawResponse({ ...base, amountText: '98765432109876543.123456', status: 1 }, sign);
    expect(text).toContain('"amount":98765432109876543.123456,');
    expect(verifySignature(parseBack(text), SECRET)).toBe(true);
  });

  it('refuses an amount that is not a JSON number', () => {
    expect(() => withdrawResponse({ ...base, amountText: 'abc', status: 1 }, sign)).toThrow(TypeError);
  });
});

describe('signing options', () => {
  it('accepts the secret alone, stamping the current time', () => {
    const before = Math.floor(Date.now() / 1000);
    const text = topupRefusalResponse(
      { address: '0xaa', chain: 'ETH', symbol: 'X', error: 'unknown_token', errorMessage: 'no X' },
      SECRET,
    );
    const parsed = parseBack(text);
    expect(Number(String(parsed.timestamp))).toBeGreaterThanOrEqual(before);
    expect(verifySignature(parsed, SECRET)).toBe(true);
  });
});
