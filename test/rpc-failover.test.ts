import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { subscribeHeads } from '../src/chain/heads.js';
import { createPayoutClient } from '../src/chain/payout-client.js';
import { createChainRpc } from '../src/chain/rpc.js';
import { noMetricHooks } from '../src/context/common.js';
import { PaymentError } from '../src/internal/errors.js';
import { defaultOptions, type RpcOptions, resolveOptions } from '../src/internal/options.js';
import { createTestChain, mineUntil, type TestChain } from './helpers/chain.js';
import { newWallet, queueId } from './helpers/payouts.js';
import { startInterceptingRpc } from './helpers/rpc-intercept.js';
import { captureLogger, randomAddress, testTuning, until } from './helpers/service.js';
import { startStack, type TestStack } from './helpers/stack.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

/**
 * Several nodes per chain (`rpcUrls`, `wsUrls`): the watcher's calls go to one node at a time and move
 * only at a safe point (the start of a pass), so one block's answers never come from two nodes; the
 * payout side's client falls over between them; the head socket tries the next URL.
 */

/** A node in front of the test's anvil: a TCP proxy that can be cut, then a proxy that records each call. */
interface TestNode {
  name: string;
  url: string;
  tcp: TcpProxy;
  close(): Promise<void>;
}

interface Served {
  node: string;
  method: string;
  round: number;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the watcher node client over several nodes', () => {
  let chain: TestChain;
  let a: TestNode;
  let b: TestNode;
  const served: Served[] = [];
  let round = 0;
  /** A node's answer to eth_blockNumber, replaced (a node behind the others). */
  const heads = new Map<string, number>();
  /** Cut this node when it has served this many calls of the current round. */
  let cutAt: { node: TestNode; calls: number } | undefined;

  async function startNode(name: string): Promise<TestNode> {
    const rpc = await startInterceptingRpc(chain.anvil.rpcUrl);
    const node: TestNode = { name, url: '', tcp: undefined as unknown as TcpProxy, close: async () => {} };
    rpc.set((call) => {
      served.push({ node: name, method: call.method, round });
      const ofRound = served.filter((s) => s.node === name && s.round === round).length;
      if (cutAt?.node === node && ofRound >= cutAt.calls) node.tcp.cut('reset');
      const head = heads.get(name);
      return call.method === 'eth_blockNumber' && head !== undefined
        ? { result: `0x${head.toString(16)}` }
        : undefined;
    });
    const target = new URL(rpc.url);
    node.tcp = await startTcpProxy(target.hostname, Number(target.port));
    node.url = `http://${node.tcp.address}`;
    node.close = async () => {
      await node.tcp.close();
      await rpc.close();
    };
    return node;
  }

  function makeRpc(urls: string[], rpc: Partial<RpcOptions> = {}) {
    const { logger, lines } = captureLogger();
    const options = resolveOptions({ rpc: { transportRetryMs: 5, preferredRetryMs: 100, ...rpc } });
    return { rpc: createChainRpc({ options, metrics: noMetricHooks, logger }, { rpcUrls: urls }), lines };
  }
  const nodesOf = (list: Served[]) => [...new Set(list.map((s) => s.node))];

  beforeAll(async () => {
    chain = await createTestChain({ noMining: true });
    a = await startNode('A');
    b = await startNode('B');
  });
  afterEach(() => {
    a.tcp.restore();
    b.tcp.restore();
    heads.clear();
    cutAt = undefined;
    served.length = 0;
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await chain?.stop();
  });

  it('answers from the next node after the first failed, from the next safe point on', async () => {
    const { rpc, lines } = makeRpc([a.url, b.url]);
    rpc.atSafePoint();
    await rpc.getBlockNumber();
    expect(nodesOf(served)).toEqual(['A']);
    a.tcp.cut('reset');
    await expect(rpc.getBlockNumber()).rejects.toMatchObject({ code: 'rpc_error', retryable: true });
    // Until the safe point every call fails at once: none goes to B.
    served.length = 0;
    await expect(rpc.getBlockHeader(0)).rejects.toBeInstanceOf(PaymentError);
    expect(served).toEqual([]);
    expect(rpc.currentNode()).toEqual({ index: 0, count: 2, host: a.url });
    rpc.atSafePoint();
    expect(rpc.currentNode()).toEqual({ index: 1, count: 2, host: b.url });
    expect(await rpc.getChainId()).toBe(chain.anvil.chainId);
    expect(nodesOf(served)).toEqual(['B']);
    expect(lines.some((l) => l.includes('node calls go to another node') && l.includes(b.url))).toBe(true);
  });

  it('moves at the first failure when no safe point is ever called (the chain-id probe of a start)', async () => {
    const { rpc } = makeRpc([a.url, b.url]);
    a.tcp.cut('reset');
    await expect(rpc.getChainId()).rejects.toMatchObject({ code: 'rpc_error' });
    expect(await rpc.getChainId()).toBe(chain.anvil.chainId);
    expect(rpc.currentNode().index).toBe(1);
  });

  it('never sends the calls between two safe points to two nodes, whichever node is cut when', async () => {
    // No asks of a preferred node here: those go to two nodes by design, out of any pass.
    const { rpc } = makeRpc([a.url, b.url], { preferredRetryMs: 600_000 });
    // A pass: two sequences of calls at once, each going on after a failure (as a backfill does when a
    // range fails); a node is cut in the middle of some passes.
    const plan: Record<number, TestNode> = { 5: a, 9: b, 14: a, 15: b };
    let used = 0;
    for (round = 0; round < 20; round++) {
      if (plan[round - 2]) plan[round - 2]!.tcp.restore();
      cutAt = plan[round] ? { node: plan[round]!, calls: 3 } : undefined;
      rpc.atSafePoint();
      const sequence = async () => {
        for (let i = 0; i < 4; i++) await rpc.getBlockHeader(0).catch(() => undefined);
      };
      await Promise.all([sequence(), sequence()]);
      used += nodesOf(served.filter((s) => s.round === round)).length;
    }
    const byRound = Array.from({ length: 20 }, (_, r) => nodesOf(served.filter((s) => s.round === r)));
    for (const nodes of byRound) expect(nodes.length).toBeLessThanOrEqual(1);
    // Both nodes were used, in turn.
    expect(byRound.flat()).toContain('A');
    expect(byRound.flat()).toContain('B');
    expect(used).toBeGreaterThan(10);
  });

  it('goes back to the preferred node at a safe point once it answers again, not before', async () => {
    const { rpc } = makeRpc([a.url, b.url]);
    rpc.atSafePoint();
    a.tcp.cut('reset');
    await expect(rpc.getBlockNumber()).rejects.toBeInstanceOf(PaymentError);
    rpc.atSafePoint();
    expect(rpc.currentNode().index).toBe(1);
    // A is asked every 100 ms and does not answer: the calls stay on B.
    for (let i = 0; i < 8; i++) {
      rpc.atSafePoint();
      await wait(50);
    }
    expect(rpc.currentNode().index).toBe(1);
    a.tcp.restore();
    await until(() => {
      rpc.atSafePoint();
      return rpc.currentNode().index === 0;
    }, 10_000);
    served.length = 0;
    await rpc.getBlockNumber();
    expect(nodesOf(served)).toEqual(['A']);
  });

  it('does not go back to a preferred node that is behind the node in use', async () => {
    await chain.mine(20);
    const { rpc } = makeRpc([a.url, b.url]);
    rpc.atSafePoint();
    a.tcp.cut('reset');
    await expect(rpc.getBlockNumber()).rejects.toBeInstanceOf(PaymentError);
    rpc.atSafePoint();
    heads.set('A', Number(await chain.blockNumber()) - 10);
    a.tcp.restore();
    for (let i = 0; i < 8; i++) {
      rpc.atSafePoint();
      await wait(50);
    }
    expect(served.some((s) => s.node === 'A' && s.method === 'eth_blockNumber')).toBe(true);
    expect(rpc.currentNode().index).toBe(1);
    heads.delete('A');
    await until(() => {
      rpc.atSafePoint();
      return rpc.currentNode().index === 0;
    }, 10_000);
  });

  it('with one node, behaves as before: a call after a failed one is sent, no safe point needed', async () => {
    const { rpc } = makeRpc([a.url]);
    rpc.atSafePoint();
    a.tcp.cut('reset');
    await expect(rpc.getBlockNumber()).rejects.toMatchObject({ code: 'rpc_error' });
    a.tcp.restore();
    expect(await rpc.getChainId()).toBe(chain.anvil.chainId);
    expect(rpc.currentNode()).toEqual({ index: 0, count: 1, host: a.url });
  });

  it('the payout client falls over to the next node, batches included', async () => {
    const stop = new AbortController();
    try {
      const client = createPayoutClient(
        [a.url, b.url],
        { ...defaultOptions.payouts, rpcRankMs: 100 },
        stop.signal,
      );
      a.tcp.cut('reset');
      const addresses = [randomAddress(), randomAddress(), randomAddress()];
      const balances = await Promise.all(addresses.map((address) => client.getBalance({ address })));
      expect(balances).toEqual([0n, 0n, 0n]);
      expect(await client.getChainId()).toBe(chain.anvil.chainId);
      expect(served.some((s) => s.node === 'B' && s.method === 'eth_getBalance')).toBe(true);
    } finally {
      stop.abort();
    }
  });

  it('the head socket tries the next URL when one cannot connect', async () => {
    const node = new URL(chain.anvil.wsUrl);
    const dead = await startTcpProxy(node.hostname, Number(node.port));
    dead.cut('reset');
    const { logger } = captureLogger();
    const seen: number[] = [];
    const sub = subscribeHeads(
      { logger },
      {
        wsUrl: `ws://${dead.address}`,
        wsUrls: [`ws://${dead.address}`, chain.anvil.wsUrl],
        pingIntervalMs: 5_000,
        onHead: (n) => seen.push(n),
      },
    );
    try {
      await until(() => sub.isConnected(), 10_000, 'subscribed on the second URL');
      const head = Number(await chain.mine(1));
      await until(() => seen.includes(head), 10_000, 'the new head');
    } finally {
      sub.close();
      await dead.close();
    }
  });
});

describe('a service with two nodes, the first cut', () => {
  let stack: TestStack;
  let first: TcpProxy;
  let second: TcpProxy;
  const user = newWallet();
  const sender = 1;

  beforeAll(async () => {
    const chain = await createTestChain({ noMining: true });
    await chain.deployToken();
    const node = new URL(chain.anvil.rpcUrl);
    first = await startTcpProxy(node.hostname, Number(node.port));
    second = await startTcpProxy(node.hostname, Number(node.port));
    const urls = (scheme: string) => [`${scheme}://${first.address}`, `${scheme}://${second.address}`];
    stack = await startStack({
      db: 'sqlite',
      chain,
      wallets: [user],
      collect: ['topupResp', 'withdrawResp'],
      async prepareChain(c) {
        await c.mint(c.accounts[sender]!.address, 1_000n * 10n ** 6n);
        await c.mint(user.address, 100n * 10n ** 6n);
        await c.setEthBalance(user.address, 10n ** 19n);
      },
      configure(config) {
        const eth = config.chains[0]!;
        [eth.rpcUrl] = urls('http') as [string];
        [eth.wsUrl] = urls('ws') as [string];
        eth.rpcUrls = urls('http');
        eth.wsUrls = urls('ws');
      },
      tuning: { ...testTuning, rpc: { preferredRetryMs: 300, transportRetryMs: 10 } },
    });
    await until(() => stack.service.lanes.every((lane) => lane.state() === 'running'), 20_000, 'the chain');
  });
  afterAll(async () => {
    await stack?.teardown();
    await first?.close();
    await second?.close();
    await stack?.chain.stop();
  });

  const node = () => stack.service.partsOf('ETH').context.rpc.currentNode();
  const topups = (address: string) =>
    stack
      .collector('topupResp')
      .messages.map((m) => m.json as { address: string; status: number; tx_hash: string })
      .filter((m) => m.address === address.toLowerCase());

  it('sees a deposit and pays a withdrawal through the second node while the first is cut', async () => {
    const chain = stack.chain;
    expect(node().index).toBe(0);
    first.cut('reset');
    const address = randomAddress();
    await stack.watch(address);
    const tx = await chain.transfer(sender, address, 5_000_000n);
    await mineUntil(chain, () => topups(address).some((m) => m.status === 1), 'deposit final');
    expect(topups(address).map((m) => [m.status, m.tx_hash])).toEqual([
      [2, tx],
      [1, tx],
    ]);
    expect(node()).toMatchObject({ index: 1, host: `http://${second.address}` });

    const id = queueId('fo');
    const to = randomAddress();
    await stack.withdraw({ queue_id: id, from_address: user.address, to_address: to, amount: '2.5' });
    await mineUntil(
      chain,
      () =>
        stack
          .collector('withdrawResp')
          .messages.some((m) => (m.json as { queue_id: string }).queue_id === id),
      'withdrawal answered',
    );
    expect(stack.collector('withdrawResp').messages.map((m) => m.json)).toContainEqual(
      expect.objectContaining({ queue_id: id, status: 1 }),
    );
    expect(await chain.balanceOf(to)).toBe(2_500_000n);
  });

  // Needs the watcher to call `rpc.atSafePoint()` at the start of each pass (src/chain/watcher.ts,
  // first line of `syncToHead`): turn into `it` with that line.
  it('goes back to the first node at a safe point once it answers again, and sees deposits there', async () => {
    const chain = stack.chain;
    expect(node().index).toBe(1);
    first.restore();
    await mineUntil(chain, () => node().index === 0, 'the watcher back on the first node');
    expect(stack.logs.some((l) => l.includes('a preferred node answers again'))).toBe(true);
    const later = randomAddress();
    await stack.watch(later);
    const laterTx = await chain.transfer(sender, later, 1_000_000n);
    await mineUntil(chain, () => topups(later).some((m) => m.status === 1), 'second deposit final');
    expect(topups(later).map((m) => [m.status, m.tx_hash])).toEqual([
      [2, laterTx],
      [1, laterTx],
    ]);
  });
});
