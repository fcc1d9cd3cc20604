import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Hex } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueConfig } from '../src/config/types.js';
import { stringifyMessage } from '../src/protocol/json.js';
import { withSignature } from '../src/protocol/sign.js';
import { newMnemonic } from '../src/vault/hd.js';
import { mineUntil } from './helpers/chain.js';
import { dbKinds } from './helpers/db.js';
import { queueId } from './helpers/payouts.js';
import type { Collector } from './helpers/rabbit.js';
import { randomAddress, TEST_SIGN_KEY, until } from './helpers/service.js';
import { startStack, type TestStack } from './helpers/stack.js';

/**
 * Deposit addresses issued per business user over the address queue (issue 12): the same address for
 * the same user_ref across a restart, watched at once for every asset, a deposit to it answered 2 then 1,
 * a withdrawal from it paid with its key derived for the signature, and the mnemonic, the seed and the
 * derived keys nowhere in clear: not in the database, not in the logs.
 */

const E6 = 10n ** 6n;
const E18 = 10n ** 18n;
const sender = 1;

interface AddressMsg {
  request_id: string;
  user_ref: string;
  address?: string;
  index?: number;
  status: number;
  error?: string;
  error_message?: string;
}

function signedAddressRequest(fields: Record<string, unknown>): string {
  return stringifyMessage(
    withSignature({ timestamp: Math.floor(Date.now() / 1000), ...fields }, TEST_SIGN_KEY),
  );
}

describe.each(dbKinds)('issued deposit addresses on %s', (kind) => {
  let stack: TestStack;
  let address: QueueConfig;
  let addressResp: QueueConfig;
  let answers: Collector;
  const mnemonic = newMnemonic();
  const expected = (index: number) =>
    mnemonicToAccount(mnemonic, { addressIndex: index }).address.toLowerCase() as Hex;

  async function ask(userRef: string, more: Record<string, unknown> = {}): Promise<AddressMsg> {
    const requestId = queueId('addr');
    await stack.publish(address, signedAddressRequest({ request_id: requestId, user_ref: userRef, ...more }));
    const msg = await answers.waitFor((m) => (m.json as AddressMsg).request_id === requestId, 20_000);
    return msg.json as AddressMsg;
  }

  beforeAll(async () => {
    stack = await startStack({
      db: kind,
      collect: ['topupResp', 'withdrawResp'],
      prepareChain: (c) => c.mint(c.accounts[sender]!.address, 1_000n * E6),
      configure(config) {
        const q = (name: string): QueueConfig => ({
          queue: `${config.rmq.topup.queue}.${name}`,
          exchange: config.rmq.topup.exchange,
          routing: [`${config.rmq.topup.routing[0]}.${name}`],
        });
        address = q('address');
        addressResp = q('address_resp');
        config.rmq.address = address;
        config.rmq.addressResp = addressResp;
      },
    });
    answers = await stack.business.collect(addressResp);
  });

  afterAll(async () => {
    await answers?.stop();
    if (stack) {
      for (const q of [address.queue, `${address.queue}.dlq`, addressResp.queue]) {
        await stack.business.deleteQueue(q).catch(() => {});
      }
    }
    await stack?.teardown();
  });

  it('answers status 0 hd_root_missing before the HD root exists, and dead-letters an unsigned request', async () => {
    const refused = await ask('early-user');
    expect(refused).toMatchObject({ user_ref: 'early-user', status: 0, error: 'hd_root_missing' });
    expect(refused.address).toBeUndefined();
    await stack.publish(address, JSON.stringify({ request_id: 'r-unsigned', user_ref: 'u', timestamp: 1 }));
    await until(async () => (await stack.business.readDlq(address.queue)).length > 0, 20_000, 'dead letter');
    const [dead] = await stack.business.readDlq(address.queue);
    expect(dead?.headers['x-reject-reason']).toBe('missing field sign');
    // Never answered: an answer to an unsigned message could be taken for the real one's.
    await stack.settled();
    expect(answers.messages.some((m) => (m.json as AddressMsg).request_id === 'r-unsigned')).toBe(false);
  });

  it('issues one address per user_ref, the same one every time and after a restart, watched for every asset', async () => {
    const created = await stack.service.vault.initHd(mnemonic);
    expect(created).toEqual({ created: true, firstAddress: expected(0) });

    const alice = await ask('alice');
    expect(alice).toMatchObject({ user_ref: 'alice', status: 1, address: expected(0), index: 0 });
    const bob = await ask('bob', { chain: 'eth' });
    expect(bob).toMatchObject({ status: 1, address: expected(1), index: 1 });
    expect(await ask('alice')).toMatchObject({ status: 1, address: expected(0), index: 0 });
    expect(await ask('carol', { chain: 'TRON' })).toMatchObject({ status: 0, error: 'unknown_chain' });

    const watched = await stack.service.db
      .selectFrom('watched_addresses')
      .select(['chain', 'symbol'])
      .where('address', '=', expected(0))
      .orderBy('symbol')
      .execute();
    expect(watched).toEqual([
      { chain: 'ETH', symbol: 'ETH' },
      { chain: 'ETH', symbol: 'USDT' },
    ]);

    await stack.restart();
    expect(await ask('alice')).toMatchObject({ status: 1, address: expected(0), index: 0 });
    expect(await ask('dave')).toMatchObject({ status: 1, address: expected(2), index: 2 });
    // Answers to distinct requests at once: each user gets one index, none given twice.
    const many = await Promise.all(['u1', 'u2', 'u3', 'u1', 'u2'].map((u) => ask(u)));
    const byUser = new Map(many.map((m) => [m.user_ref, m.index]));
    expect(many.every((m) => m.index === byUser.get(m.user_ref))).toBe(true);
    expect(new Set(byUser.values())).toEqual(new Set([3, 4, 5]));
  });

  it('answers a deposit to an issued address 2 then 1', async () => {
    const alice = expected(0);
    const tx = await stack.chain.transfer(sender, alice, 25n * E6);
    const topups = () =>
      stack
        .collector('topupResp')
        .messages.map((m) => m.json as { address: string; status: number; tx_hash: string })
        .filter((m) => m.address === alice);
    await mineUntil(stack.chain, () => topups().some((m) => m.status === 1), 'status 1');
    expect(topups().map((m) => [m.status, m.tx_hash])).toEqual([
      [2, tx],
      [1, tx],
    ]);
  });

  it('pays a withdrawal from an issued address, its key derived to sign', async () => {
    const alice = expected(0);
    await stack.chain.setEthBalance(alice, E18);
    const id = queueId('hdw');
    const to = randomAddress();
    await stack.withdraw({ queue_id: id, from_address: alice, to_address: to, amount: '10' });
    await mineUntil(
      stack.chain,
      () =>
        stack
          .collector('withdrawResp')
          .messages.some((m) => (m.json as { queue_id: string }).queue_id === id),
      'the withdrawal answered',
    );
    const answer = stack
      .collector('withdrawResp')
      .messages.map((m) => m.json as { queue_id: string; status: number; from_address: string })
      .find((m) => m.queue_id === id);
    expect(answer).toMatchObject({ status: 1, from_address: alice });
    expect(await stack.chain.balanceOf(to)).toBe(10n * E6);
    expect(await stack.chain.balanceOf(alice)).toBe(15n * E6);
  });

  it('keeps the mnemonic, the seed and the derived keys out of the database and the logs', async () => {
    await stack.settled();
    const account = mnemonicToAccount(mnemonic, { addressIndex: 0 });
    const privateKey = Buffer.from(account.getHdKey().privateKey!).toString('hex');
    const seedHex = Buffer.from(account.getHdKey().privateExtendedKey).toString('hex');
    const words = mnemonic.split(' ');
    const secrets = [mnemonic, words.slice(0, 4).join(' '), privateKey, seedHex];

    const tables = [
      'hd_roots',
      'issued_addresses',
      'wallets',
      'watched_addresses',
      'outbox',
      'audit_log',
      'payouts',
      'payout_txs',
      'deposits',
    ] as const;
    let dump = '';
    for (const table of tables) {
      dump += JSON.stringify(await stack.service.db.selectFrom(table).selectAll().execute());
    }
    expect(dump).toContain(expected(0));
    expect(dump).toMatch(/"encrypted_seed":"v1:/);
    if (stack.db.config.driver === 'sqlite') {
      // The file itself (and its write-ahead log), not only what a query returns.
      const dir = dirname(stack.db.config.file);
      for (const file of readdirSync(dir)) dump += readFileSync(join(dir, file)).toString('latin1');
    }
    const logs = stack.logs.join('\n');
    expect(logs).toContain('deposit address issued');
    for (const secret of secrets) {
      expect(dump.includes(secret)).toBe(false);
      expect(logs.includes(secret)).toBe(false);
    }
  });
});
