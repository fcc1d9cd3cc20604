import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PaymentError } from '../internal/errors.js';
import { createLogger } from '../internal/logger.js';
import { parseMasterKey } from './master-key.js';
import { redact } from './redacted.js';

const hex = randomBytes(32).toString('hex');

function thrown(fn: () => unknown): PaymentError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PaymentError) return err;
    throw err;
  }
  throw new Error('did not throw');
}

function logLine(fields: Record<string, unknown>): string {
  let out = '';
  const destination = new Writable({
    write(chunk, _enc, done) {
      out += String(chunk);
      done();
    },
  });
  const logger = createLogger({ destination });
  logger.info(fields, 'holding a secret');
  logger.info({ err: fields }, 'nested');
  return out;
}

describe('parseMasterKey', () => {
  it('takes exactly 64 hex characters (either case, surrounding whitespace ignored)', () => {
    expect(Buffer.from(parseMasterKey(hex).reveal()).toString('hex')).toBe(hex);
    expect(Buffer.from(parseMasterKey(` ${hex.toUpperCase()}\n`).reveal()).toString('hex')).toBe(hex);
  });

  it('says a missing key is missing', () => {
    for (const value of [undefined, '', '  ']) {
      const err = thrown(() => parseMasterKey(value));
      expect(err.code).toBe('master_key_missing');
      expect(err.message).toMatch(/^PAYMENT_MASTER_KEY is not set: .*64 hex characters/);
    }
  });

  it('says a malformed key is invalid, one line, without echoing it', () => {
    for (const value of [hex.slice(2), `${hex}00`, `0x${hex}`, `${hex.slice(1)}g`, 'secret-passphrase']) {
      const err = thrown(() => parseMasterKey(value));
      expect(err.code).toBe('master_key_invalid');
      expect(err.message).toMatch(/^PAYMENT_MASTER_KEY is not valid: expected 64 hex characters/);
      expect(err.message).not.toContain(value);
      expect(err.message).not.toContain('\n');
    }
  });
});

describe('MasterKey and Redacted print [redacted]', () => {
  const secret = 'ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
  const holders = { masterKey: parseMasterKey(hex), secret: redact(secret) };

  it('via String, template literals, JSON.stringify and util.inspect', () => {
    for (const [name, value] of Object.entries(holders)) {
      expect(String(value), name).toBe('[redacted]');
      expect(`${value}`, name).toBe('[redacted]');
      expect(JSON.stringify(value), name).toBe('"[redacted]"');
      expect(JSON.stringify({ value }), name).toBe('{"value":"[redacted]"}');
      expect(inspect(value), name).toBe('[redacted]');
      expect(inspect({ value }, { showHidden: true, depth: 10 }), name).toBe('{ value: [redacted] }');
      expect(Object.keys(value), name).toEqual([]);
      expect({ ...value }, name).toEqual({});
    }
  });

  it('in a pino log line', () => {
    const out = logLine(holders);
    expect(out).toContain('"masterKey":"[redacted]"');
    expect(out).toContain('"secret":"[redacted]"');
    expect(out).not.toContain(hex);
    expect(out).not.toContain(secret);
  });

  it('still hands the value to the code that asks for it', () => {
    expect(holders.secret.reveal()).toBe(secret);
  });
});
