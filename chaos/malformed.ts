/**
 * Bad requests for the request queues: garbage, non-objects, missing or wrongly typed ids, forged and
 * missing signatures, unsignable values, oversized bodies (all dead-lettered, PROTOCOL §10), and signed
 * requests with a wrongly typed amount (refused with a status 0 answer, §8.1).
 */
import { stringifyMessage } from '../src/protocol/json.js';
import { withSignature } from '../src/protocol/sign.js';
import type { Random } from './random.js';

export type RequestRole = 'topup' | 'withdraw' | 'pay';

export interface BadMessage {
  role: RequestRole;
  kind: string;
  body: string;
  /** Dead-lettered, or answered status 0 under this queue_id. */
  expect: { dlq: true } | { answerId: string };
}

const OVERSIZE = 64 * 1024 + 100;

export function badMessages(random: Random, count: number, signKey: string, idPrefix: string): BadMessage[] {
  const out: BadMessage[] = [];
  const now = () => Math.floor(Date.now() / 1000);
  const address = () => random.hex(20);
  const payoutFields = (role: RequestRole, id: string) => ({
    queue_id: id,
    ...(role === 'pay' ? { order_id: `o-${id}` } : {}),
    from_address: address(),
    to_address: address(),
    amount: '1',
    chain: 'ETH',
    symbol: 'USDT',
    timestamp: now(),
  });
  const fields = (role: RequestRole, id: string): Record<string, unknown> =>
    role === 'topup'
      ? { chain: 'ETH', symbol: 'USDT', address: address(), timestamp: now() }
      : payoutFields(role, id);
  const dlq = { dlq: true } as const;

  for (let i = 0; i < count; i++) {
    const role = random.pick<RequestRole>(['topup', 'withdraw', 'pay']);
    const id = `${idPrefix}-${i}`;
    const kinds = [
      'garbage',
      'not_object',
      'missing_id',
      'id_number',
      'forged',
      'unsigned',
      'nested',
      'duplicate_key',
      'infinity',
      ...(random.chance(0.05) ? ['oversized'] : []),
      ...(role === 'topup' ? [] : ['amount_type', 'amount_type']),
    ];
    const kind = random.pick(kinds);
    const signed = (msg: Record<string, unknown>) => stringifyMessage(withSignature(msg, signKey));
    switch (kind) {
      case 'garbage': {
        const bytes = random.hex(random.int(1, 64)).slice(2);
        out.push({ role, kind, body: random.chance(0.5) ? `{"queue_id":"${id}",` : bytes, expect: dlq });
        break;
      }
      case 'not_object':
        out.push({
          role,
          kind,
          body: random.pick(['[]', '42', '"text"', 'null', '[{"queue_id":"x"}]']),
          expect: dlq,
        });
        break;
      case 'missing_id': {
        const msg = fields(role, id);
        delete msg[
          role === 'topup' ? 'address' : random.pick(role === 'pay' ? ['queue_id', 'order_id'] : ['queue_id'])
        ];
        out.push({ role, kind, body: signed(msg), expect: dlq });
        break;
      }
      case 'id_number': {
        const msg = fields(role, id);
        msg[role === 'topup' ? 'address' : 'queue_id'] = random.int(1, 1_000_000);
        out.push({ role, kind, body: signed(msg), expect: dlq });
        break;
      }
      case 'forged': {
        const body = stringifyMessage(withSignature(fields(role, id), `${signKey}-wrong`));
        out.push({ role, kind, body, expect: dlq });
        break;
      }
      case 'unsigned':
        out.push({ role, kind, body: stringifyMessage(fields(role, id)), expect: dlq });
        break;
      case 'nested': {
        const msg = { ...fields(role, id), extra: { a: 1 } };
        out.push({
          role,
          kind,
          body: `${JSON.stringify(msg).slice(0, -1)},"sign":"${'0'.repeat(64)}"}`,
          expect: dlq,
        });
        break;
      }
      case 'duplicate_key': {
        const body = signed(fields(role, id));
        out.push({ role, kind, body: `${body.slice(0, -1)},"chain":"BSC"}`, expect: dlq });
        break;
      }
      case 'infinity': {
        const body = signed(fields(role, id));
        out.push({ role, kind, body: body.replace('"timestamp":', '"big":1e400,"timestamp":'), expect: dlq });
        break;
      }
      case 'oversized': {
        const msg = { ...fields(role, id), padding: 'x'.repeat(OVERSIZE) };
        out.push({ role, kind, body: signed(msg), expect: dlq });
        break;
      }
      case 'amount_type': {
        const msg = {
          ...payoutFields(role, id),
          amount: random.pick([true, '-5', 'abc', '1.0000001', '0', '1e-7']),
        };
        out.push({ role, kind, body: signed(msg), expect: { answerId: id } });
        break;
      }
      default:
        throw new Error(`unknown kind ${kind}`);
    }
  }
  return out;
}
