import { type Hex, keccak256, toHex } from 'viem';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  blockLogsProblem,
  bloomMayContain,
  bloomMayHoldLogs,
  bloomOfLogs,
  isNotYet,
  rangeLogsProblem,
} from '../src/chain/log-check.js';
import type { RpcLog } from '../src/chain/rpc.js';
import { TRANSFER_TOPIC } from '../src/chain/transfers.js';
import { PaymentError } from '../src/internal/errors.js';
import { createTestChain, mineUntil, type TestChain } from './helpers/chain.js';
import { type DbKind, dbKinds } from './helpers/db.js';
import { type FaultRpcOptions, startFaultRpc } from './helpers/fault-rpc.js';
import { randomAddress, until } from './helpers/service.js';
import { startStack, type TestStack } from './helpers/stack.js';

const USDT = 1_000_000n;
const SENDER = 1;

interface TopupMsg {
  address: string;
  status: number;
  tx_hash: string;
  block_height: number;
}

/**
 * A service whose node (HTTP and WebSocket) is behind a fault proxy, on a chain of its own. The stack is
 * handed a copy of the chain whose node URLs are the proxy's: the service talks through the proxy, the
 * test (mining, reading the head) to anvil directly.
 */
async function startFaultStack(kind: DbKind, faultOptions: FaultRpcOptions, confirmHeight: number) {
  const chain = await createTestChain({ noMining: true });
  await chain.deployToken();
  await chain.mint(chain.accounts[SENDER]!.address, 1_000_000n * USDT);
  // Transparent until the service has started (it checks the chain id at start).
  const faults = await startFaultRpc(
    { httpUrl: chain.anvil.rpcUrl, wsUrl: chain.anvil.wsUrl },
    { ...faultOptions, rates: {} },
  );
  const viaFaults: TestChain = {
    ...chain,
    anvil: { ...chain.anvil, rpcUrl: faults.httpUrl, wsUrl: faults.wsUrl },
  };
  let stack: TestStack;
  try {
    stack = await startStack({ db: kind, chain: viaFaults, confirmHeight, collect: ['topupResp'] });
  } catch (err) {
    await faults.close();
    await chain.stop();
    throw err;
  }
  if (faultOptions.rates) faults.setRates(faultOptions.rates);
  const responses = stack.collector('topupResp');
  const reorgs: number[] = [];
  stack.service.watcher.onReorg((e) => reorgs.push(e.depth));
  const messagesFor = (address: string): TopupMsg[] =>
    responses.messages.map((m) => m.json as TopupMsg).filter((m) => m.address === address.toLowerCase());
  return {
    stack,
    chain,
    faults,
    reorgs,
    messagesFor,
    waitStatus: (address: string, status: number, timeoutMs = 20_000) =>
      until(
        () => messagesFor(address).find((m) => m.status === status),
        timeoutMs,
        `status ${status} for ${address}`,
      ),
    async teardown() {
      await stack.teardown();
      await faults.close();
      await chain.stop();
    },
  };
}

type FaultStack = Awaited<ReturnType<typeof startFaultStack>>;

describe.each(dbKinds)('the deposit watcher behind a faulty provider, on %s', (kind) => {
  let s: FaultStack | undefined;
  afterEach(async () => {
    await s?.teardown();
    s = undefined;
  });

  it('does not take a lagging backend’s empty logs for an empty block: the deposit is reported once the logs are there', async () => {
    const CONFIRM = 3;
    // Headers from an up-to-date backend, logs from one 100 blocks behind (empty, or "header not found").
    s = await startFaultStack(kind, { seed: 11, methods: ['eth_getLogs'], lagBlocks: 100 }, CONFIRM);
    const { chain, faults, stack } = s;
    const to = randomAddress();
    await stack.watch(to);
    await stack.settled();
    faults.setRates({ lag: 1, headerNotFound: 0.5 });
    const txHash = await chain.transfer(SENDER, to, 5n * USDT);
    const block = Number(await chain.mine(1));
    await chain.mine(1);
    // The watcher asked for the block's logs (again and again) and got the lagging answers.
    await until(
      () => (faults.counts().lag ?? 0) >= 6 || (stack.service.watcher.status().tip ?? 0) >= block,
      20_000,
      'lagged log answers',
    );
    expect(stack.service.watcher.status().tip).toBeLessThan(block);
    expect(s.messagesFor(to)).toHaveLength(0);
    expect(faults.counts().header_not_found ?? 0).toBeGreaterThan(0);

    // The head moves on: the block is now deep enough to be taken by an eth_getLogs range, which the
    // lagging backend answers only up to its own head. The cursor must not move past the block either.
    await chain.mine(CONFIRM + 3);
    const lagged = faults.counts().lag ?? 0;
    await until(
      () => (faults.counts().lag ?? 0) >= lagged + 6 || (stack.service.watcher.status().tip ?? 0) >= block,
      20_000,
      'lagged range answers',
    );
    expect(stack.service.watcher.status().tip).toBeLessThan(block);
    expect(s.messagesFor(to)).toHaveLength(0);

    faults.setRates({ lag: 0 });
    const pending = await s.waitStatus(to, 2);
    expect(pending).toMatchObject({ tx_hash: txHash, block_height: block });
    const deposit = s;
    await mineUntil(chain, () => deposit.messagesFor(to).some((m) => m.status === 1), 'status 1');
    expect(s.messagesFor(to).map((m) => m.status)).toEqual([2, 1]);
    expect(s.reorgs).toEqual([]);
  });

  it('does not take a head number that goes backwards for a reorganisation', async () => {
    const CONFIRM = 3;
    // Every call answered as of 3 blocks ago: eth_blockNumber goes back, newer blocks are null.
    s = await startFaultStack(kind, { seed: 22, lagBlocks: 3 }, CONFIRM);
    const { chain, faults, stack } = s;
    const to = randomAddress();
    await stack.watch(to);
    const txHash = await chain.transfer(SENDER, to, 7n * USDT);
    const block = Number(await chain.mine(1));
    await s.waitStatus(to, 2);
    await chain.mine(1);
    await stack.settled();

    faults.setRates({ lag: 1 });
    await until(
      () => {
        stack.service.watcher.poke();
        return (faults.counts().lag ?? 0) >= 20;
      },
      20_000,
      'passes against the lagging backend',
    );
    expect(s.reorgs).toEqual([]);
    const row = await stack.service.db
      .selectFrom('deposits')
      .select('status')
      .where('tx_hash', '=', txHash)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('pending');
    expect(stack.service.watcher.status().tip).toBeGreaterThanOrEqual(block + 1);

    faults.setRates({ lag: 0 });
    const deposit = s;
    await mineUntil(chain, () => deposit.messagesFor(to).some((m) => m.status === 1), 'status 1');
    await stack.settled();
    expect(s.messagesFor(to).map((m) => m.status)).toEqual([2, 1]);
    expect(s.reorgs).toEqual([]);
  });

  it('reports every deposit (status 2) while it is still pending, with 30% of calls failing', async () => {
    const CONFIRM = 5;
    s = await startFaultStack(kind, { seed: 33, rates: { http429: 0.1, http503: 0.1, drop: 0.1 } }, CONFIRM);
    const { chain, faults, stack } = s;
    const recipients = Array.from({ length: 6 }, () => randomAddress());
    for (const to of recipients) await stack.watch(to);

    // The head (read from the node directly) when each status arrived.
    const arrivals = new Map<string, { status: number; block: number; headAtArrival: number }[]>();
    let seen = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const messages = stack.collector('topupResp').messages;
        if (messages.length > seen) {
          const head = Number(await chain.blockNumber());
          for (const m of messages.slice(seen)) {
            const j = m.json as TopupMsg;
            const list = arrivals.get(j.address) ?? [];
            list.push({ status: j.status, block: j.block_height, headAtArrival: head });
            arrivals.set(j.address, list);
          }
          seen = messages.length;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    try {
      // A chain that moves on its own, one block every 500 ms, whatever the service does.
      const mineOne = async () => {
        await chain.mine(1);
        await new Promise((r) => setTimeout(r, 500));
      };
      for (const to of recipients) {
        await chain.transfer(SENDER, to, 3n * USDT);
        await mineOne();
        await mineOne();
      }
      for (let i = 0; i < 40 && recipients.some((a) => !arrivals.get(a)?.some((x) => x.status === 1)); i++)
        await mineOne();
    } finally {
      watching = false;
      await watcher;
    }

    const injected = faults.counts();
    expect((injected['429'] ?? 0) + (injected['503'] ?? 0) + (injected.drop ?? 0)).toBeGreaterThan(10);
    for (const to of recipients) {
      const got = arrivals.get(to) ?? [];
      expect(
        got.map((x) => x.status),
        to,
      ).toEqual([2, 1]);
      const [pending, confirmed] = got;
      // Status 2 came while the deposit's block had fewer than CONFIRM confirmations…
      expect(pending!.headAtArrival - pending!.block + 1, to).toBeLessThan(CONFIRM);
      // …so at a lower head than its status 1.
      expect(pending!.headAtArrival, to).toBeLessThan(confirmed!.headAtArrival);
    }
  });
});

describe('log checks', () => {
  let chain: TestChain;
  beforeAll(async () => {
    chain = await createTestChain({ noMining: true });
    await chain.deployToken();
    await chain.mint(chain.accounts[SENDER]!.address, 100n * USDT);
  });
  afterAll(async () => {
    await chain?.stop();
  });

  const log = (over: Partial<RpcLog> = {}): RpcLog => ({
    address: '0x1111111111111111111111111111111111111111',
    topics: [TRANSFER_TOPIC],
    data: '0x',
    blockNumber: '0x5',
    blockHash: `0x${'ab'.repeat(32)}`,
    transactionHash: `0x${'cd'.repeat(32)}`,
    logIndex: '0x0',
    ...over,
  });

  it('builds the bloom a block carries and finds its token and Transfer topic in it', async () => {
    const a = randomAddress();
    const b = randomAddress();
    await chain.transfer(SENDER, a, 1n);
    await chain.transfer(SENDER, b, 2n);
    const number = await chain.mine(1);
    const block = await chain.publicClient.getBlock({ blockNumber: number });
    const logs = (await chain.publicClient.request({
      method: 'eth_getLogs',
      params: [{ blockHash: block.hash }],
    })) as RpcLog[];
    expect(logs).toHaveLength(2);
    expect(bloomOfLogs(logs)).toBe(block.logsBloom);
    const token = chain.token.toLowerCase() as Hex;
    expect(bloomMayHoldLogs(block.logsBloom!, [token], TRANSFER_TOPIC)).toBe(true);
    const recipientTopic = `0x${a.slice(2).padStart(64, '0')}` as Hex;
    expect(bloomMayContain(block.logsBloom!, recipientTopic)).toBe(true);

    const empty = await chain.publicClient.getBlock({ blockNumber: await chain.mine(1) });
    expect(bloomMayHoldLogs(empty.logsBloom!, [token], TRANSFER_TOPIC)).toBe(false);
  });

  it('tells "certainly not" from "maybe"', () => {
    const token = '0x2222222222222222222222222222222222222222' as Hex;
    const bloom = bloomOfLogs([{ address: token, topics: [TRANSFER_TOPIC] }]);
    expect(bloomMayContain(bloom, token)).toBe(true);
    expect(bloomMayContain(bloom, TRANSFER_TOPIC)).toBe(true);
    expect(bloomMayHoldLogs(bloom, [token], TRANSFER_TOPIC)).toBe(true);
    // Another token's Transfer, or this token's other event, is not this token's Transfer.
    const other = '0x3333333333333333333333333333333333333333' as Hex;
    expect(bloomMayHoldLogs(bloom, [other], TRANSFER_TOPIC)).toBe(false);
    expect(bloomMayHoldLogs(bloom, [token], keccak256(toHex('Approval(address,address,uint256)')))).toBe(
      false,
    );
    expect(bloomMayHoldLogs(`0x${'00'.repeat(256)}`, [token], TRANSFER_TOPIC)).toBe(false);
    expect(bloomMayHoldLogs(`0x${'ff'.repeat(256)}`, [other], TRANSFER_TOPIC)).toBe(true);
    expect(() => bloomMayContain('0x00', token)).toThrow(/256 bytes/);
  });

  it('refuses logs that do not belong to the block or the range, or are out of order', () => {
    const block = { number: 5, hash: `0x${'ab'.repeat(32)}` as Hex };
    expect(blockLogsProblem(block, [log(), log({ logIndex: '0x3' })])).toBeUndefined();
    expect(blockLogsProblem(block, [log({ blockHash: `0x${'ee'.repeat(32)}` })])).toMatch(/of block/);
    expect(blockLogsProblem(block, [log({ blockNumber: '0x6' })])).toMatch(/block number/);
    expect(blockLogsProblem(block, [log({ logIndex: '0x2' }), log({ logIndex: '0x1' })])).toMatch(/index/);
    expect(blockLogsProblem(block, [log({ removed: true })])).toMatch(/removed/);
    expect(
      rangeLogsProblem(4, 6, [log({ blockNumber: '0x4' }), log({ blockNumber: '0x6' })]),
    ).toBeUndefined();
    expect(rangeLogsProblem(4, 6, [log({ blockNumber: '0x7' })])).toMatch(/outside/);
    expect(rangeLogsProblem(4, 6, [log({ blockNumber: '0x6' }), log({ blockNumber: '0x5' })])).toMatch(
      /after/,
    );
  });

  it('knows the errors of a node that does not have the block yet', () => {
    const wrapped = new PaymentError('rpc_error', 'eth_getLogs failed: header not found', {
      cause: new Error('header not found'),
      retryable: true,
    });
    expect(isNotYet(wrapped)).toBe(true);
    expect(isNotYet(new Error('execution reverted'))).toBe(false);
  });
});
