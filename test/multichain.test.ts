import type { Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestChain, mineUntil, type TestChain } from './helpers/chain.js';
import { BSC_CHAIN_ID, bscChainConfig } from './helpers/chains.js';
import { dbKinds } from './helpers/db.js';
import { newWallet, queueId, signedWithdraw } from './helpers/payouts.js';
import type { ReceivedMessage } from './helpers/rabbit.js';
import { randomAddress, signedTopup, until } from './helpers/service.js';
import { startStack, type TestStack } from './helpers/stack.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

/**
 * Two chains in one service: ETH (the stack's anvil, 6-decimal USDT, native ETH) and BSC (an anvil of
 * another chain id behind a TCP proxy the test can cut, an 18-decimal USDT, native BNB), on one database
 * and one broker. Deposits, withdrawals and refusals are routed by `chain` and `symbol`; one chain's node
 * going away leaves the other answering.
 */

const CONFIRM = 3;
const E6 = 10n ** 6n;
const E18 = 10n ** 18n;

interface TopupMsg {
  address: string;
  status: number;
  chain: string;
  symbol: string;
  tx_hash: string;
  log_index?: number;
  error?: string;
}

interface PayoutMsg {
  queue_id: string;
  status: number;
  chain: string;
  symbol: string;
  tx_hash: string;
  from_address: string;
  error?: string;
}

/** The raw text of a message, where the exact decimal of `amount` is checked. */
function rawOf(messages: ReceivedMessage[], match: (json: Record<string, unknown>) => boolean): string {
  return messages.find((m) => match(m.json as Record<string, unknown>))?.text ?? '';
}

describe.each(dbKinds)('two chains on %s', (kind) => {
  let stack: TestStack;
  let eth: TestChain;
  let bsc: TestChain;
  let bscProxy: TcpProxy;
  const user = newWallet();
  const sender = 1;

  const topups = (address: string): TopupMsg[] =>
    stack
      .collector('topupResp')
      .messages.map((m) => m.json as TopupMsg)
      .filter((m) => m.address === address.toLowerCase());
  const payoutAnswer = (id: string): PayoutMsg | undefined =>
    stack
      .collector('withdrawResp')
      .messages.map((m) => m.json as PayoutMsg)
      .find((m) => m.queue_id === id);
  /** Mines a block on both chains (each anvil mines only when told). */
  const both = {
    async mine(blocks = 1) {
      await bsc.mine(blocks);
      return eth.mine(blocks);
    },
  };
  /** Waits, without mining, for what the blocks mined so far give. */
  const seen = (address: string, status: number) =>
    until(() => topups(address).some((m) => m.status === status), 20_000, `status ${status} for ${address}`);
  const untilTopup = (address: string, status: number, count = 1) =>
    mineUntil(
      both,
      () => topups(address).filter((m) => m.status === status).length >= count,
      `${count} status ${status} for ${address}`,
    );
  beforeAll(async () => {
    bsc = await createTestChain({ noMining: true, chainId: BSC_CHAIN_ID });
    await bsc.deployToken(18);
    const node = new URL(bsc.anvil.rpcUrl);
    bscProxy = await startTcpProxy(node.hostname, Number(node.port));
    await bsc.mint(bsc.accounts[sender]!.address, 1_000n * E18);
    await bsc.mint(user.address, 100n * E18);
    await bsc.setEthBalance(user.address, 10n * E18);
    stack = await startStack({
      db: kind,
      confirmHeight: CONFIRM,
      wallets: [user],
      collect: ['topupResp', 'withdrawResp'],
      async prepareChain(c) {
        await c.mint(c.accounts[sender]!.address, 1_000n * E6);
        await c.mint(user.address, 100n * E6);
        await c.setEthBalance(user.address, 10n * E18);
      },
      configure: (config) => config.chains.push(bscChainConfig(bsc, bscProxy, { confirmHeight: CONFIRM })),
    });
    eth = stack.chain;
    await until(() => stack.service.lanes.every((lane) => lane.state() === 'running'), 20_000, 'both chains');
  });

  afterAll(async () => {
    await stack?.teardown();
    await bscProxy?.close();
    await bsc?.stop();
  });

  it('reports token deposits on both chains, 6 and 18 decimals exact, each under its chain', async () => {
    const onEth = randomAddress();
    const onBsc = randomAddress();
    await stack.watch(onEth, { chain: 'ETH', symbol: 'USDT' });
    await stack.watch(onBsc, { chain: 'BSC', symbol: 'USDT' });
    const ethTx = await eth.transfer(sender, onEth, 1_234_567n);
    const bscTx = await bsc.transfer(sender, onBsc, E18 + 1n);
    await untilTopup(onEth, 1);
    await untilTopup(onBsc, 1);
    expect(topups(onEth).map((m) => [m.status, m.chain, m.symbol, m.tx_hash])).toEqual([
      [2, 'ETH', 'USDT', ethTx],
      [1, 'ETH', 'USDT', ethTx],
    ]);
    expect(topups(onBsc).map((m) => [m.status, m.chain, m.symbol, m.tx_hash])).toEqual([
      [2, 'BSC', 'USDT', bscTx],
      [1, 'BSC', 'USDT', bscTx],
    ]);
    const messages = stack.collector('topupResp').messages;
    expect(rawOf(messages, (j) => j.tx_hash === ethTx)).toContain('"amount":1.234567,');
    expect(rawOf(messages, (j) => j.tx_hash === bscTx)).toContain('"amount":1.000000000000000001,');
  });

  it('reports a native BNB deposit without log_index, and one a reorganisation removed as status 0', async () => {
    const kept = randomAddress();
    const lost = randomAddress();
    await stack.watch(kept, { chain: 'BSC', symbol: 'BNB' });
    await stack.watch(lost, { chain: 'BSC', symbol: 'BNB' });
    const keptTx = await bsc.walletClients[sender]!.sendTransaction({ to: kept, value: 2n * E18 + 5n });
    await bsc.mine(1);
    await seen(kept, 2);
    const lostTx = await bsc.walletClients[sender]!.sendTransaction({ to: lost, value: 3n * E18 });
    await bsc.mine(1);
    await seen(lost, 2);
    // The block holding lostTx is replaced by an empty one: the transfer is gone from the chain.
    await bsc.reorg(1);
    await untilTopup(lost, 0);
    await untilTopup(kept, 1);
    expect(topups(kept).map((m) => [m.status, m.symbol, m.tx_hash])).toEqual([
      [2, 'BNB', keptTx],
      [1, 'BNB', keptTx],
    ]);
    expect(topups(kept).every((m) => m.log_index === undefined)).toBe(true);
    expect(topups(lost).map((m) => [m.status, m.tx_hash])).toEqual([
      [2, lostTx],
      [0, lostTx],
    ]);
    const messages = stack.collector('topupResp').messages;
    expect(rawOf(messages, (j) => j.tx_hash === keptTx && j.status === 1)).toContain(
      '"amount":2.000000000000000005,',
    );
  });

  it('finds on both chains what was paid in while the service was stopped', async () => {
    const onEth = randomAddress();
    const onBsc = randomAddress();
    const native = randomAddress();
    await stack.watch(onEth, { chain: 'ETH', symbol: 'USDT' });
    await stack.watch(onBsc, { chain: 'BSC', symbol: 'USDT' });
    await stack.watch(native, { chain: 'BSC', symbol: 'BNB' });
    await stack.service.stop();
    const ethTx = await eth.transfer(sender, onEth, 7n * E6);
    const bscTx = await bsc.transfer(sender, onBsc, 7n * E18);
    const nativeTx = await bsc.walletClients[sender]!.sendTransaction({ to: native, value: E18 });
    await both.mine(CONFIRM + 5);
    await stack.restart();
    for (const [address, tx] of [
      [onEth, ethTx],
      [onBsc, bscTx],
      [native, nativeTx],
    ] as const) {
      await untilTopup(address, 1);
      expect(topups(address).map((m) => [m.status, m.tx_hash])).toEqual([
        [2, tx],
        [1, tx],
      ]);
    }
  });

  it('pays token and native withdrawals on both chains, one nonce sequence per chain for the same wallet', async () => {
    const requests = [
      { chain: 'ETH', symbol: 'USDT', amount: '1.5' },
      { chain: 'BSC', symbol: 'USDT', amount: '2.000000000000000003' },
      { chain: 'ETH', symbol: 'ETH', amount: '0.25' },
      { chain: 'BSC', symbol: 'BNB', amount: '0.5' },
    ].map((r) => ({ ...r, id: queueId('mc'), to: randomAddress() }));
    for (const r of requests) {
      await stack.publish(
        stack.queues.withdraw,
        signedWithdraw({
          queue_id: r.id,
          from_address: user.address,
          to_address: r.to,
          amount: r.amount,
          chain: r.chain,
          symbol: r.symbol,
        }),
      );
    }
    await mineUntil(both, () => requests.every((r) => payoutAnswer(r.id)), 'four withdrawals answered');
    for (const r of requests) {
      expect(payoutAnswer(r.id)).toMatchObject({
        status: 1,
        chain: r.chain,
        symbol: r.symbol,
        from_address: user.address,
      });
    }
    const [ethUsdt, bscUsdt, ethNative, bscNative] = requests as [
      (typeof requests)[0],
      (typeof requests)[0],
      (typeof requests)[0],
      (typeof requests)[0],
    ];
    expect(await eth.balanceOf(ethUsdt.to)).toBe(1_500_000n);
    expect(await bsc.balanceOf(bscUsdt.to)).toBe(2n * E18 + 3n);
    expect(await eth.publicClient.getBalance({ address: ethNative.to })).toBe(E18 / 4n);
    expect(await bsc.publicClient.getBalance({ address: bscNative.to })).toBe(E18 / 2n);
    // Each chain's transactions of this wallet have nonces 0 and 1 on that chain.
    for (const [chain, ids] of [
      [eth, [ethUsdt.id, ethNative.id]],
      [bsc, [bscUsdt.id, bscNative.id]],
    ] as const) {
      const nonces: number[] = [];
      for (const id of ids) {
        const hash = payoutAnswer(id)!.tx_hash as Hex;
        nonces.push((await chain.publicClient.getTransaction({ hash })).nonce);
      }
      expect(nonces.sort()).toEqual([0, 1]);
    }
  });

  it('refuses a chain it does not serve, and a symbol the named chain lacks', async () => {
    const address = randomAddress();
    await stack.publish(stack.queues.topup, signedTopup(address, { chain: 'TRON' }));
    await stack.publish(stack.queues.topup, signedTopup(address, { chain: 'ETH', symbol: 'BNB' }));
    const id = queueId('mc');
    await stack.publish(
      stack.queues.withdraw,
      signedWithdraw({
        queue_id: id,
        from_address: user.address,
        to_address: address,
        amount: '1',
        chain: 'POLYGON',
      } as Parameters<typeof signedWithdraw>[0]),
    );
    await until(() => topups(address).length >= 2 && payoutAnswer(id), 20_000, 'three refusals');
    expect(topups(address).map((m) => [m.status, m.chain, m.error])).toEqual([
      [0, 'TRON', 'unknown_chain'],
      [0, 'ETH', 'unknown_token'],
    ]);
    expect(payoutAnswer(id)).toMatchObject({ status: 0, chain: 'POLYGON', error: 'unknown_chain' });
  });

  it('keeps answering on ETH while the node of BSC is cut, names BSC in /ready, and catches BSC up after', async () => {
    const onEth = randomAddress();
    const onBsc = randomAddress();
    await stack.watch(onEth, { chain: 'ETH', symbol: 'USDT' });
    await stack.watch(onBsc, { chain: 'BSC', symbol: 'USDT' });
    bscProxy.cut('reset');
    try {
      const bscTx = await bsc.transfer(sender, onBsc, 3n * E18);
      await bsc.mine(1);
      const ethTx = await eth.transfer(sender, onEth, 3n * E6);
      await mineUntil(eth, () => topups(onEth).some((m) => m.status === 1), 'ETH deposit final');
      expect(topups(onEth).map((m) => [m.status, m.tx_hash])).toEqual([
        [2, ethTx],
        [1, ethTx],
      ]);
      const ready = await until(
        async () => {
          const res = await fetch(`${stack.baseUrl()}/ready`);
          const text = await res.text();
          return res.status === 503 && /chain BSC/.test(text) ? text : undefined;
        },
        20_000,
        '/ready naming BSC',
      );
      expect(ready).not.toMatch(/chain ETH/);
      expect(topups(onBsc)).toEqual([]);
      bscProxy.restore();
      await untilTopup(onBsc, 1);
      expect(topups(onBsc).map((m) => [m.status, m.tx_hash])).toEqual([
        [2, bscTx],
        [1, bscTx],
      ]);
    } finally {
      bscProxy.restore();
    }
  });
});

describe('a chain whose node is down at start', () => {
  it('does not hold the other chain back: ETH runs, /ready names BSC, and BSC starts once its node answers', async () => {
    const bsc = await createTestChain({ noMining: true, chainId: BSC_CHAIN_ID });
    await bsc.deployToken(18);
    const node = new URL(bsc.anvil.rpcUrl);
    const proxy = await startTcpProxy(node.hostname, Number(node.port));
    proxy.cut('reset');
    let stack: TestStack | undefined;
    try {
      await bsc.mint(bsc.accounts[1]!.address, 10n * E18);
      stack = await startStack({
        db: 'sqlite',
        confirmHeight: CONFIRM,
        collect: ['topupResp'],
        prepareChain: (c) => c.mint(c.accounts[1]!.address, 10n * E6),
        configure: (config) => config.chains.push(bscChainConfig(bsc, proxy, { confirmHeight: CONFIRM })),
      });
      const lanes = stack.service.lanes;
      expect(lanes.map((lane) => [lane.name, lane.state()])).toEqual([
        ['ETH', 'running'],
        ['BSC', 'connecting'],
      ]);
      const ready = await fetch(`${stack.baseUrl()}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.text()).toMatch(/chain BSC: connecting to the node/);
      // ETH is served meanwhile.
      const address = randomAddress();
      await stack.watch(address);
      await stack.chain.transfer(1, address, 5n * E6);
      const running = stack;
      await mineUntil(
        running.chain,
        () => running.collector('topupResp').messages.some((m) => (m.json as TopupMsg).status === 1),
        'the ETH deposit final',
      );
      proxy.restore();
      await until(() => lanes[1]!.state() === 'running', 30_000, 'BSC running');
    } finally {
      await stack?.teardown();
      await proxy.close();
      await bsc.stop();
    }
  });
});
