import { describe, expect, it } from 'vitest';
import { describeTopology } from '../amqp/topology.js';
import { ConfigError } from '../config/errors.js';
import { parseConfig } from '../config/parse.js';
import { validateAddressRequest } from '../protocol/address-request.js';
import { parseJsonLossless } from '../protocol/json.js';
import type { ValidationContext } from '../protocol/messages.js';
import { addressResponse } from '../protocol/responses.js';
import { signMessage, verifySignature } from '../protocol/sign.js';

/** The address queue's wire parts: the request's validation, the answer's text, the config, the topology. */

const SECRET = 'secret';
const NOW = 1_758_610_297;
const ctx: ValidationContext = {
  secret: SECRET,
  signWindowS: 86_400,
  chains: [
    { name: 'ETH', assets: [] },
    { name: 'BSC', assets: [] },
  ],
  nowS: NOW,
};

function signed(fields: Record<string, unknown>): string {
  return JSON.stringify({ ...fields, sign: signMessage(fields, SECRET) });
}

const request = { request_id: 'r-1', user_ref: 'user-42', timestamp: NOW };

describe('validateAddressRequest', () => {
  it('accepts a signed request, with or without a configured chain in any letter case', () => {
    expect(validateAddressRequest(signed(request), ctx)).toEqual({
      kind: 'ok',
      request: { type: 'address', requestId: 'r-1', userRef: 'user-42', chain: undefined, timestamp: NOW },
    });
    const bsc = validateAddressRequest(signed({ ...request, chain: 'bsc' }), ctx);
    expect(bsc).toMatchObject({ kind: 'ok', request: { chain: 'bsc' } });
  });

  it('dead-letters what cannot be trusted or answered', () => {
    const reason = (body: string) => {
      const result = validateAddressRequest(body, ctx);
      return result.kind === 'reject' ? result.reason : `not rejected: ${result.kind}`;
    };
    expect(reason(JSON.stringify(request))).toBe('missing field sign');
    expect(reason(JSON.stringify({ ...request, sign: 'ab'.repeat(32) }))).toBe('bad signature');
    expect(reason(signed({ user_ref: 'u', timestamp: NOW }))).toBe('missing field request_id');
    expect(reason(signed({ request_id: 'r', timestamp: NOW }))).toBe('missing field user_ref');
    expect(reason(signed({ ...request, user_ref: 42 }))).toBe('field user_ref is not a string');
    expect(reason(signed({ ...request, user_ref: '' }))).toBe('field user_ref is empty');
    expect(reason(signed({ ...request, user_ref: 'u'.repeat(192) }))).toBe(
      'user_ref is longer than 191 characters',
    );
    expect(validateAddressRequest(signed({ ...request, user_ref: 'u'.repeat(191) }), ctx).kind).toBe('ok');
  });

  it('refuses an expired request and an unknown chain, echoing request_id and user_ref', () => {
    const expired = validateAddressRequest(signed({ ...request, timestamp: NOW - 90_000 }), ctx);
    expect(expired).toMatchObject({
      kind: 'refuse',
      code: 'expired',
      request: { requestId: 'r-1', userRef: 'user-42' },
    });
    const tron = validateAddressRequest(signed({ ...request, chain: 'TRON' }), ctx);
    expect(tron).toMatchObject({ kind: 'refuse', code: 'unknown_chain' });
    if (tron.kind === 'refuse')
      expect(tron.message).toBe('unknown chain "TRON"; this service answers to ETH, BSC');
    const numeric = validateAddressRequest(signed({ ...request, chain: 1 }), ctx);
    expect(numeric).toMatchObject({ kind: 'refuse', code: 'unknown_chain' });
  });
});

describe('addressResponse', () => {
  it('writes the fields in order, signed; a refusal has no address fields', () => {
    const ok = addressResponse(
      { requestId: 'r-1', userRef: 'user-42', status: 1, address: '0xabc', index: 7 },
      { secret: SECRET, nowS: NOW },
    );
    expect(ok).toMatch(
      /^\{"request_id":"r-1","user_ref":"user-42","address":"0xabc","index":7,"status":1,"timestamp":1758610297,"sign":"[0-9a-f]{64}"\}$/,
    );
    expect(verifySignature(parseJsonLossless(ok) as Record<string, unknown>, SECRET)).toBe(true);
    const refused = addressResponse(
      { requestId: 'r-2', userRef: 'u', status: 0, error: 'hd_root_missing', errorMessage: 'no\nroot' },
      { secret: SECRET, nowS: NOW },
    );
    expect(refused).toMatch(
      /^\{"request_id":"r-2","user_ref":"u","status":0,"error":"hd_root_missing","error_message":"no root","timestamp":1758610297,"sign":"[0-9a-f]{64}"\}$/,
    );
  });
});

describe('rmq_config.address / address_resp', () => {
  const queue = (name: string) => ({ queue: name, exchange: 'pay.exchange', routing: [`${name}.key`] });
  const config = (more: Record<string, unknown>) => ({
    rmq_config: {
      sub_addr: 'amqp://localhost',
      pay: queue('pay'),
      topup: queue('topup'),
      withdraw: queue('withdraw'),
      pay_resp: queue('pay.resp'),
      topup_resp: queue('topup.resp'),
      withdraw_resp: queue('withdraw.resp'),
      ...more,
    },
    eth_config: {
      rpcUrl: 'http://localhost:8545',
      wsUrl: 'ws://localhost:8546',
      confirmHeight: 20,
      dbConfig: { driver: 'sqlite', file: 'x.db' },
    },
  });
  const problems = (json: unknown) => {
    try {
      parseConfig(json);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };

  it('are optional; absent, nothing more is declared', () => {
    const rmq = parseConfig(config({})).rmq;
    expect(rmq.address).toBeUndefined();
    expect(describeTopology(rmq).queues).not.toContain('address');
  });

  it('are read with the other queues, and declared with a .dlq for the requests', () => {
    const rmq = parseConfig(config({ address: queue('address'), address_resp: queue('address.resp') })).rmq;
    expect(rmq.address).toEqual(queue('address'));
    expect(rmq.addressResp).toEqual(queue('address.resp'));
    const topology = describeTopology(rmq);
    expect(topology.queues).toEqual(expect.arrayContaining(['address', 'address.dlq', 'address.resp']));
    expect(topology.queues).not.toContain('address.resp.dlq');
    expect(topology.bindings).toContainEqual({
      queue: 'address',
      exchange: 'pay.exchange',
      routingKey: 'address.key',
    });
  });

  it('come both or not at all, under names of their own', () => {
    expect(problems(config({ address: queue('address') }))).toEqual([
      expect.stringMatching(/^rmq_config\.address_resp: .*since rmq_config\.address is set/),
    ]);
    expect(problems(config({ address: queue('topup'), address_resp: queue('address.resp') }))).toEqual([
      expect.stringMatching(/^rmq_config\.address\.queue: .*not already used by rmq_config\.topup/),
    ]);
  });
});
