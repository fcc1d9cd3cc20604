import type { Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJsonLossless } from '../src/protocol/json.js';
import { verifySignature } from '../src/protocol/sign.js';
import { createTestChain, type TestChain } from './helpers/chain.js';
import { dbKinds } from './helpers/db.js';
import type { ReceivedMessage } from './helpers/rabbit.js';
import { randomAddress, signedTopup, TEST_SIGN_KEY, until } from './helpers/service.js';
import { type StartStackOptions, startStack } from './helpers/stack.js';

const CONFIRM = 3;
const USDT = 1_000_000n;

interface TopupMsg {
  address: string;
  status: number;
  amount: unknown;
  tx_hash: string;
  log_index: number;
  block_height: number;
  from_address: string;
}

/** A stack collecting topup responses, with what the deposit tests ask of it. */
async function startDepositStack(options: StartStackOptions) {
  const stack = await startStack({ ...options, confirmHeight: CONFIRM, collect: ['topupResp'] });
  const responses = stack.collector('topupResp');
  const messagesFor = (address: string): TopupMsg[] =>
    responses.messages.map((m) => m.json as TopupMsg).filter((m) => m.address === address.toLowerCase());
  return Object.assign(stack, {
    responses,
    messagesFor,
    waitStatus(address: string, status: number, count = 1) {
      return until(
        () => {
          const found = messagesFor(address).filter((m) => m.status === status);
          return found.length >= count ? found : undefined;
        },
        20_000,
        `${count} status ${status} for ${address}`,
      );
    },
  });
}

type DepositStack = Awaited<ReturnType<typeof startDepositStack>>;

function rawOf(messages: ReceivedMessage[], txHash: string, status: number) {
  return messages.find((m) => {
    const j = m.json as TopupMsg;
    return j.tx_hash === txHash && j.status === status;
  });
}

describe.each(dbKinds)('deposits on %s', (kind) => {
  let chain: TestChain;
  let stack: DepositStack;
  const sender = 1;

  beforeAll(async () => {
    stack = await startDepositStack({
      db: kind,
      prepareChain: (c) => c.mint(c.accounts[sender]!.address, 1_000_000n * USDT),
    });
    chain = stack.chain;
  });

  afterAll(async () => {
    await stack?.teardown();
  });

  it('reports a transfer at once (status 2) and once final (status 1), with the exact amount, not before confirmHeight', async () => {
    const to = randomAddress();
    await stack.watch(to);
    const txHash = await chain.transfer(sender, to, 123_456_789n);
    const block = Number(await chain.mine(1));

    const [pending] = await stack.waitStatus(to, 2);
    expect(pending).toMatchObject({
      status: 2,
      chain: 'ETH',
      symbol: 'USDT',
      tx_hash: txHash,
      block_height: block,
      from_address: chain.accounts[sender]!.address.toLowerCase(),
    });
    const raw2 = rawOf(stack.responses.messages, txHash, 2)!;
    expect(raw2.text).toContain('"amount":123.456789');
    expect(verifySignature(parseJsonLossless(raw2.text) as Record<string, unknown>, TEST_SIGN_KEY)).toBe(
      true,
    );

    // confirmHeight - 1 confirmations: still pending.
    await chain.mine(CONFIRM - 2);
    await stack.settled();
    expect(stack.messagesFor(to).filter((m) => m.status === 1)).toHaveLength(0);

    await chain.mine(1);
    const [confirmed] = await stack.waitStatus(to, 1);
    expect(confirmed).toMatchObject({
      status: 1,
      tx_hash: txHash,
      block_height: block,
      log_index: pending!.log_index,
    });
    expect(rawOf(stack.responses.messages, txHash, 1)!.text).toContain('"amount":123.456789');

    await chain.mine(2);
    await stack.settled();
    expect(stack.messagesFor(to)).toHaveLength(2);
    const row = await stack.service.db
      .selectFrom('deposits')
      .selectAll()
      .where('tx_hash', '=', txHash)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      status: 'confirmed',
      amount_raw: '123456789',
      to_address: to,
      block_number: block,
    });
  });

  it('takes two transfers in one transaction as two deposits and ignores unwatched addresses', async () => {
    const a = randomAddress();
    const b = randomAddress();
    const unwatched = randomAddress();
    await stack.watch(a);
    // Mixed case in the request: addresses match case-insensitively.
    await stack.watch(b.toUpperCase().replace('0X', '0x'));
    const txHash = await chain.multiTransfer(sender, [
      { to: a, raw: 1_000_000n },
      { to: a, raw: 2_500_000n },
      { to: unwatched, raw: 7n },
      { to: b, raw: 1n },
    ]);
    await chain.mine(1);
    const pendingA = await stack.waitStatus(a, 2, 2);
    await stack.waitStatus(b, 2);
    expect(new Set(pendingA.map((m) => m.log_index)).size).toBe(2);
    expect(pendingA.every((m) => m.tx_hash === txHash)).toBe(true);
    const texts = stack.responses.messages
      .filter((m) => (m.json as TopupMsg).address === a)
      .map((m) => m.text);
    expect(texts.some((t) => t.includes('"amount":1,'))).toBe(true);
    expect(texts.some((t) => t.includes('"amount":2.5,'))).toBe(true);
    expect(stack.responses.messages.find((m) => (m.json as TopupMsg).address === b)!.text).toContain(
      '"amount":0.000001,',
    );

    await chain.mine(CONFIRM);
    await stack.waitStatus(a, 1, 2);
    await stack.waitStatus(b, 1);
    await stack.settled();
    expect(stack.messagesFor(a)).toHaveLength(4);
    expect(stack.messagesFor(b)).toHaveLength(2);
    expect(stack.messagesFor(unwatched)).toHaveLength(0);
    const rows = await stack.service.db
      .selectFrom('deposits')
      .selectAll()
      .where('tx_hash', '=', txHash)
      .execute();
    expect(rows.map((r) => r.to_address).sort()).toEqual([a, a, b].sort());
  });

  it('answers status 0 when a reorganisation removes a deposit for good', async () => {
    const to = randomAddress();
    await stack.watch(to);
    const txHash = await chain.transfer(sender, to, 5_000_000n);
    await chain.mine(1);
    await stack.waitStatus(to, 2);

    await chain.reorg(1); // the block is replaced by one without the transfer; anvil drops it
    await chain.mine(CONFIRM);
    const [failed] = await stack.waitStatus(to, 0);
    expect(failed).toMatchObject({ status: 0, tx_hash: txHash });
    await chain.mine(2);
    await stack.settled();
    expect(stack.messagesFor(to).map((m) => m.status)).toEqual([2, 0]);
    const row = await stack.service.db
      .selectFrom('deposits')
      .selectAll()
      .where('tx_hash', '=', txHash)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('failed');
  });

  it('follows a deposit that a reorganisation moves to another block and confirms it there', async () => {
    const to = randomAddress();
    await stack.watch(to);
    const raw = await chain.signTransfer(sender, to, 9_990_000n);
    const txHash = await chain.sendRawTransaction(raw);
    const first = Number(await chain.mine(1));
    await stack.waitStatus(to, 2);
    await chain.mine(1);
    await stack.settled();

    // Replace the last two blocks; the transfer lands in the second new one.
    await chain.reorg(2, [[raw, 1]]);
    const receipt = await chain.publicClient.getTransactionReceipt({ hash: txHash });
    const moved = Number(receipt.blockNumber);
    expect(moved).toBe(first + 1);
    await chain.mine(CONFIRM);
    const [confirmed] = await stack.waitStatus(to, 1);
    expect(confirmed).toMatchObject({ tx_hash: txHash, block_height: moved });
    await chain.mine(CONFIRM);
    await stack.settled();
    expect(stack.messagesFor(to).map((m) => m.status)).toEqual([2, 1]);
    const row = await stack.service.db
      .selectFrom('deposits')
      .selectAll()
      .where('tx_hash', '=', txHash)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      status: 'confirmed',
      block_number: moved,
      block_hash: receipt.blockHash.toLowerCase(),
    });
  });

  it('finds the transfers made while the service was stopped, in block order', async () => {
    const to = randomAddress();
    await stack.watch(to);
    await stack.service.stop();
    const hashes: Hex[] = [];
    hashes.push(await chain.transfer(sender, to, 1_000_000n));
    await chain.mine(1);
    hashes.push(await chain.transfer(sender, to, 2_000_000n));
    await chain.mine(20); // beyond confirmHeight: taken by the range backfill
    hashes.push(await chain.transfer(sender, to, 3_000_000n));
    await chain.mine(1); // recent: taken block by block
    await stack.restart();

    await stack.waitStatus(to, 2, 3);
    await stack.waitStatus(to, 1, 2);
    await chain.mine(CONFIRM);
    await stack.waitStatus(to, 1, 3);
    await stack.settled();
    const seen = stack.messagesFor(to).map((m) => `${m.tx_hash}:${m.status}`);
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
    // Each transfer's status 2 comes before its status 1, and transfers come in block order.
    const order = (h: Hex, s: number) => seen.indexOf(`${h}:${s}`);
    for (const h of hashes) expect(order(h, 2)).toBeLessThan(order(h, 1));
    expect(order(hashes[0]!, 2)).toBeLessThan(order(hashes[1]!, 2));
    expect(order(hashes[1]!, 2)).toBeLessThan(order(hashes[2]!, 2));
  });

  it('sees a reorganisation that happened while it was stopped, before backfilling past it', async () => {
    const lost = randomAddress();
    const kept = randomAddress();
    await stack.watch(lost);
    await stack.watch(kept);
    const lostHash = await chain.transfer(sender, lost, 1_000_000n);
    await chain.mine(1);
    await stack.waitStatus(lost, 2);
    const { nonce } = await chain.publicClient.getTransaction({ hash: lostHash });
    await stack.settled();
    await stack.service.stop();
    // While stopped: the block with the deposit is replaced by one paying another watched address, and the
    // chain moves on far beyond confirmHeight (the restart backfills by range).
    const raw = await chain.signTransfer(sender, kept, 2_000_000n, { nonce });
    await chain.reorg(1, [[raw, 0]]);
    await chain.mine(CONFIRM + 10);
    await stack.restart();
    await stack.waitStatus(lost, 0);
    await stack.waitStatus(kept, 1);
    await stack.settled();
    expect(stack.messagesFor(lost).map((m) => m.status)).toEqual([2, 0]);
    expect(stack.messagesFor(kept).map((m) => m.status)).toEqual([2, 1]);
  });

  it('sends malformed JSON, a bad signature and a missing field to the .dlq, and nothing else happens', async () => {
    const address = randomAddress();
    const bodies = [
      '{"chain":"ETH", not json',
      signedTopup(address).replace(/"sign":"[0-9a-f]+"/, `"sign":"${'0'.repeat(64)}"`),
      JSON.stringify({ chain: 'ETH', symbol: 'USDT', timestamp: 1 }),
    ];
    for (const body of bodies) await stack.business.publishRequest(stack.queues.topup, body);
    const dlq = await until(
      async () => {
        const msgs = await stack.business.readDlq(stack.queues.topup.queue);
        return msgs.length >= 3 ? msgs : undefined;
      },
      20_000,
      'three dead letters',
    );
    expect(dlq.map((m) => m.text)).toEqual(bodies);
    for (const m of dlq) expect(String(m.headers['x-reject-reason'])).toMatch(/\w/);
    expect(String(dlq[0]!.headers['x-reject-reason'])).toMatch(/JSON/i);
    expect(String(dlq[1]!.headers['x-reject-reason'])).toMatch(/sign/i);
    expect(String(dlq[2]!.headers['x-reject-reason'])).toMatch(/address/);

    // The queue is empty (nothing redelivered), nothing was answered or watched, and the service goes on.
    expect(await stack.business.queueMessageCount(stack.queues.topup.queue)).toBe(0);
    const watched = await stack.service.db
      .selectFrom('watched_addresses')
      .select('address')
      .where('address', '=', address)
      .execute();
    expect(watched).toHaveLength(0);
    expect(stack.messagesFor(address)).toHaveLength(0);
    const next = randomAddress();
    await stack.watch(next);
  });

  it('answers a signed topup for an unknown token with status 0 and its error code', async () => {
    const address = randomAddress();
    await stack.business.publishRequest(stack.queues.topup, signedTopup(address, { symbol: 'DOGE' }));
    const msg = await stack.responses.waitFor((m) => (m.json as TopupMsg).address === address);
    expect(msg.json).toMatchObject({ status: 0, error: 'unknown_token', symbol: 'DOGE' });
    expect(verifySignature(parseJsonLossless(msg.text) as Record<string, unknown>, TEST_SIGN_KEY)).toBe(true);
  });
});

describe.each(dbKinds)('outages on %s', (kind) => {
  let chain: TestChain;
  const sender = 1;

  beforeAll(async () => {
    chain = await createTestChain({ noMining: true });
    await chain.deployToken();
    await chain.mint(chain.accounts[sender]!.address, 1_000_000n * USDT);
  });

  afterAll(async () => {
    await chain?.stop();
  });

  it('keeps recording deposits while the broker is cut off and delivers every message, in order, when it is back', async () => {
    const stack = await startDepositStack({ db: kind, chain, viaProxies: { broker: true } });
    const proxy = stack.proxies.broker!;
    try {
      const to = randomAddress();
      await stack.watch(to);
      proxy.cut();
      await until(() => !stack.service.broker.isConnected(), 20_000, 'broker seen as down');

      const first = await chain.transfer(sender, to, 1_500_000n);
      await chain.mine(1);
      const second = await chain.transfer(sender, to, 2_500_000n);
      await chain.mine(CONFIRM + 1);
      // Both deposits are recorded and confirmed in the database while nothing can be published.
      await until(
        async () => {
          const rows = await stack.service.db
            .selectFrom('deposits')
            .select('status')
            .where('to_address', '=', to)
            .where('status', '=', 'confirmed')
            .execute();
          return rows.length === 2;
        },
        20_000,
        'deposits confirmed during the outage',
      );
      expect(await stack.service.relay.backlog()).toBeGreaterThanOrEqual(4);
      expect(stack.messagesFor(to)).toHaveLength(0);
      // Alive, but not ready while the broker is away.
      const base = `http://127.0.0.1:${stack.service.httpAddress()!.port}`;
      expect((await fetch(`${base}/health`)).status).toBe(200);
      const notReady = await fetch(`${base}/ready`);
      expect(notReady.status).toBe(503);
      expect(await notReady.text()).toMatch(/broker: not connected/);

      proxy.restore();
      await stack.waitStatus(to, 1, 2);
      await stack.settled();
      const ready = await fetch(`${base}/ready`);
      expect(await ready.text()).toBe('ready\n');
      expect(ready.status).toBe(200);
      const seen = stack.messagesFor(to).map((m) => `${m.tx_hash}:${m.status}`);
      expect(seen).toEqual([`${first}:2`, `${second}:2`, `${first}:1`, `${second}:1`]);
    } finally {
      await stack.teardown();
    }
  });

  it('keeps deposits flowing by HTTP polling while the WebSocket is cut', async () => {
    const stack = await startDepositStack({ db: kind, chain, viaProxies: { ws: true } });
    const proxy = stack.proxies.ws!;
    try {
      await until(() => stack.service.watcher.status().wsConnected, 20_000, 'websocket up');
      proxy.cut();
      await until(() => !stack.service.watcher.status().wsConnected, 20_000, 'websocket seen as down');

      const to = randomAddress();
      await stack.watch(to);
      const txHash = await chain.transfer(sender, to, 4_200_000n);
      await chain.mine(1);
      await stack.waitStatus(to, 2);
      await chain.mine(CONFIRM);
      const [confirmed] = await stack.waitStatus(to, 1);
      expect(confirmed!.tx_hash).toBe(txHash);
      expect(stack.service.watcher.status().wsConnected).toBe(false);

      proxy.restore();
      await until(() => stack.service.watcher.status().wsConnected, 30_000, 'websocket back');
    } finally {
      await stack.teardown();
    }
  });

  it('backfills through a node that refuses wide eth_getLogs ranges, shrinking the range until it passes', async () => {
    const stack = await startDepositStack({ db: kind, chain, viaProxies: { rpc: { maxLogRange: 8 } } });
    const rpc = stack.proxies.rpc!;
    try {
      const to = randomAddress();
      await stack.watch(to);
      await stack.service.stop();
      const hashes: Hex[] = [];
      for (let i = 0; i < 5; i++) {
        hashes.push(await chain.transfer(sender, to, BigInt(i + 1) * 1_000_000n));
        await chain.mine(15);
      }
      await stack.restart();
      await stack.waitStatus(to, 1, 5);
      expect(
        new Set(
          stack
            .messagesFor(to)
            .filter((m) => m.status === 1)
            .map((m) => m.tx_hash),
        ),
      ).toEqual(new Set(hashes));
      expect(rpc.refused.length).toBeGreaterThan(0);
      expect(rpc.served.every(([from, toBlock]) => toBlock - from + 1 <= 8)).toBe(true);
      // The last range's progress line is written right after its commit, which the answers may outrun.
      await until(() => /backfill progress/.test(stack.logs.join('')), 10_000, 'a backfill progress line');
    } finally {
      await stack.teardown();
    }
  });
});
