import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Locator } from 'playwright-core';
import { Registry } from 'prom-client';
import type { Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAlertsConfig } from '../src/config/alerts.js';
import { singleChainConfig } from '../src/config/chains.js';
import {
  buildStatus,
  type ChainSample,
  type MonitorState,
  type StatusSnapshot,
} from '../src/monitor/status.js';
import { monitorRoutes } from '../src/server/monitor-routes.js';
import { launchBrowser } from './helpers/browser.js';
import { createTestChain, type TestChain } from './helpers/chain.js';
import { bscChainConfig } from './helpers/chains.js';
import { metricValue, scrapeMetrics } from './helpers/metrics.js';
import { newWallet } from './helpers/payouts.js';
import { createTestQueues } from './helpers/rabbit.js';
import { testTuning, until } from './helpers/service.js';
import { startStack, type TestStack } from './helpers/stack.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

const USDT = 1_000_000n;
const ETH = 10n ** 18n;
const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts');
// biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what the operator reads
const rendered = (locator: Locator) => locator.innerText();

/**
 * Two chains in one service (ETH on the stack's anvil, BSC on an anvil of another chain id behind a TCP
 * proxy the test cuts): each chain has its own series, its own entry in /status and its own row on the
 * page, and a chain whose node goes away fires its node_down alert while the other shows fine.
 */
describe('several chains on the operator side', () => {
  const BSC_CHAIN_ID = 31_339;
  const E18 = 10n ** 18n;
  let stack: TestStack;
  let bsc: TestChain;
  let bscProxy: TcpProxy;
  let browser: Browser;
  let base: string;
  const collection = newWallet();
  const status = async () => (await (await fetch(`${base}/status`)).json()) as StatusSnapshot;
  const chainOf = (s: StatusSnapshot, name: string) => s.chains.find((c) => c.name === name)!;

  beforeAll(async () => {
    bsc = await createTestChain({ noMining: true, chainId: BSC_CHAIN_ID });
    await bsc.deployToken(18);
    const node = new URL(bsc.anvil.rpcUrl);
    bscProxy = await startTcpProxy(node.hostname, Number(node.port));
    await bsc.setEthBalance(collection.address, 3n * E18);
    await bsc.mint(collection.address, 2n * E18 + 1n);
    stack = await startStack({
      db: 'sqlite',
      collection,
      tuning: {
        ...testTuning,
        monitor: { intervalMs: 150, balanceMs: 300, finalCountsMs: 150, nodeDownMs: 1_500 },
      },
      async prepareChain(c) {
        await c.setEthBalance(collection.address, ETH);
        await c.mint(collection.address, 7n * USDT);
      },
      configure: (config) =>
        config.chains.push(
          bscChainConfig(bsc, bscProxy, {
            confirmHeight: 5,
            collectionAddressLc: collection.address.toLowerCase() as Hex,
          }),
        ),
    });
    base = stack.baseUrl();
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.teardown();
    await bscProxy?.close();
    await bsc?.stop();
  });

  it('samples every chain, and a chain whose node is down fires its alert alone', async () => {
    const heads = { ETH: Number(await stack.chain.mine(2)), BSC: Number(await bsc.mine(3)) };
    const both = await until(
      async () => {
        const s = await status();
        const ready = s.chains.every(
          (c) => c.state === 'running' && c.collection?.readAt && c.tip === heads[c.name as 'ETH' | 'BSC'],
        );
        return ready ? s : undefined;
      },
      30_000,
      'both chains running, caught up, their balances read',
    );
    expect(both.chains.map((c) => [c.name, c.chainId, c.confirmHeight])).toEqual([
      ['ETH', stack.chain.anvil.chainId, 3],
      ['BSC', BSC_CHAIN_ID, 5],
    ]);
    expect(chainOf(both, 'BSC')).toMatchObject({
      nodeHead: heads.BSC,
      nodeDown: null,
      collection: {
        balances: [
          { symbol: 'BNB', native: true, decimals: 18, amount: '3' },
          { symbol: 'USDT', native: false, decimals: 18, amount: '2.000000000000000001' },
        ],
      },
    });
    expect(chainOf(both, 'ETH').collection?.balances.map((b) => `${b.amount} ${b.symbol}`)).toEqual([
      '1 ETH',
      '7 USDT',
    ]);
    const text = await scrapeMetrics(base);
    expect(metricValue(text, 'm2pool_chain_block_height', { chain: 'BSC' })).toBe(
      Number(await bsc.blockNumber()),
    );
    expect(metricValue(text, 'm2pool_chain_block_height', { chain: 'ETH' })).toBe(
      Number(await stack.chain.blockNumber()),
    );
    expect(metricValue(text, 'm2pool_wallet_balance', { chain: 'BSC', symbol: 'BNB' })).toBe(3);
    expect(metricValue(text, 'm2pool_wallet_balance', { chain: 'ETH', symbol: 'USDT' })).toBe(7);

    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    await page.goto(base);
    const row = (name: string) => page.locator('#chains tr', { hasText: name });
    await until(
      async () => (await rendered(row('BSC'))).includes('2.000000000000000001 USDT'),
      15_000,
      'BSC row',
    );

    // BSC's node goes away; ETH goes on.
    bscProxy.cut('reset');
    const down = await until(
      async () => {
        const s = await status();
        return s.alerts.some((a) => a.name === 'node_down') ? s : undefined;
      },
      20_000,
      "BSC's node_down alert",
    );
    expect(down.alerts.filter((a) => a.name === 'node_down')).toEqual([
      expect.objectContaining({
        severity: 'critical',
        chain: 'BSC',
        message: expect.stringMatching(/^chain BSC: /),
      }),
    ]);
    await stack.chain.mine(1);
    const ethHead = Number(await stack.chain.blockNumber());
    const later = await until(
      async () => {
        const s = await status();
        return chainOf(s, 'ETH').tip === ethHead && chainOf(s, 'BSC').collection?.error ? s : undefined;
      },
      20_000,
      'ETH following its head while BSC is down',
    );
    expect(chainOf(later, 'ETH')).toMatchObject({ nodeDown: null, state: 'running' });
    expect(chainOf(later, 'BSC').nodeDown).toMatch(/not answered/);
    // The last balances read stay shown, with the error next to them.
    expect(chainOf(later, 'BSC').collection?.balances).toHaveLength(2);
    expect(later.alerts.map((a) => a.chain)).not.toContain('ETH');
    const cut = await scrapeMetrics(base);
    expect(metricValue(cut, 'm2pool_alert', { name: 'node_down', chain: 'BSC' })).toBe(1);
    expect(metricValue(cut, 'm2pool_alert', { name: 'node_down', chain: 'ETH' })).toBe(0);
    expect(metricValue(cut, 'm2pool_chain_block_height', { chain: 'ETH' })).toBe(ethHead);
    await until(async () => (await rendered(row('BSC'))).includes('node down'), 15_000, 'BSC row: node down');
    expect(await row('BSC').getAttribute('class')).toBe('critical');
    expect(await rendered(row('ETH'))).toContain('running');
    expect(await row('ETH').getAttribute('class')).toBeNull();

    bscProxy.restore();
    await until(
      async () => !(await status()).alerts.some((a) => a.name === 'node_down'),
      20_000,
      'the node_down alert cleared',
    );
  });
});

/**
 * The page with five chains, from a status built by `buildStatus` out of a sample: one table row per
 * chain, each with its head, lag, pending counts, balances and state, readable on a laptop and a phone.
 */
describe('the status page with five chains', () => {
  let browser: Browser;
  let server: Server;
  let base: string;
  const NAMES = ['ETH', 'BSC', 'POLYGON', 'ARBITRUM', 'BASE'];

  function fixture(): StatusSnapshot {
    // No node behind these URLs: the page reads only the status.
    const config = singleChainConfig({
      rmq: createTestQueues(),
      chain: {
        name: 'ETH',
        chainId: 1,
        rpcUrl: 'http://127.0.0.1:1',
        wsUrl: 'ws://127.0.0.1:1',
        confirmHeight: 12,
        tokens: [{ symbol: 'USDT', addressLc: '0xdac17f958d2ee523a2206206994597c13d831ec7', decimals: 6 }],
        collectionAddressLc: `0x${'c'.repeat(40)}`,
        maxFeePerGasWei: 10n ** 11n,
        replaceAfterBlocks: 5,
      },
      db: { driver: 'sqlite', file: ':memory:' },
      http: { host: '127.0.0.1', port: 0 },
      signWindowS: 60,
      alerts: defaultAlertsConfig(),
    });
    for (const [i, name] of NAMES.slice(1).entries()) {
      config.chains.push({
        ...config.chain,
        name,
        chainId: 100 + i,
        native: { symbol: name === 'BSC' ? 'BNB' : name === 'POLYGON' ? 'POL' : 'ETH', decimals: 18 },
        tokens: [{ symbol: 'USDT', addressLc: `0x${String(i + 1).repeat(40)}` as Hex, decimals: 18 }],
        collectionAddressLc: `0x${'c'.repeat(40)}` as Hex,
      });
    }
    const now = Date.now();
    const chains: ChainSample[] = config.chains.map((c, i) => ({
      name: c.name,
      chainId: c.chainId ?? 31337,
      state: i === 3 ? 'connecting' : 'running',
      confirmHeight: c.confirmHeight,
      watcher:
        i === 3
          ? {
              tip: undefined,
              nodeHead: undefined,
              lag: undefined,
              wsConnected: false,
              backfilling: false,
              caughtUp: false,
            }
          : {
              tip: 19_000_000 + i,
              nodeHead: 19_000_000 + i + (i === 2 ? 14 : 0),
              lag: i === 2 ? 14 : 0,
              wsConnected: i !== 1,
              backfilling: false,
              caughtUp: i !== 2,
            },
      nodeDown:
        i === 3 ? 'the node has not answered since the start (45 s): the chain is not running' : undefined,
      depositCounts: new Map([
        ['pending', i],
        ['orphaned', 0],
      ]),
      payoutCounts: new Map([['sent', 2 * i]]),
      collection:
        i === 3
          ? undefined
          : {
              role: 'collection',
              chain: c.name,
              address: `0x${'c'.repeat(40)}`,
              balances: [
                { symbol: c.native.symbol, native: true, decimals: 18, raw: 0n, amount: `1.2${i}` },
                {
                  symbol: 'USDT',
                  native: false,
                  decimals: 18,
                  raw: 0n,
                  amount: `123456.00000000000000000${i + 1}`,
                },
              ],
              readAt: now - 4_000,
            },
      collectionAddress: `0x${'c'.repeat(40)}`,
      balanceError: i === 3 ? 'the chain is not running: balances not read' : undefined,
    }));
    const state: MonitorState = {
      sampledAt: now,
      chains,
      failureRatio: 0,
      oldestInFlightMs: undefined,
      pendingDeposits: [],
      pendingPayouts: [],
      recentDeposits: [],
      recentPayouts: [],
      outboxBacklog: 0,
      queues: [],
      system: { rssBytes: 1e8, memoryLimitBytes: 1e9, memoryRatio: 0.1, cpuRatio: 0.02 },
      alerts: [
        {
          name: 'node_down',
          severity: 'critical',
          chain: 'ARBITRUM',
          message: `chain ARBITRUM: ${chains[3]!.nodeDown}`,
        },
        {
          name: 'watcher_lag',
          severity: 'warning',
          chain: 'POLYGON',
          message: 'chain POLYGON: watcher 14 blocks behind the node (above 10)',
        },
      ],
      errors: [],
    };
    return buildStatus({ config, startedAt: now - 3_600_000, state });
  }

  beforeAll(async () => {
    const snapshot = fixture();
    const routes = monitorRoutes({ registry: new Registry(), monitor: { status: () => snapshot } });
    server = createServer((req, res) => {
      const route = routes[new URL(req.url ?? '/', 'http://x').pathname];
      if (route) void route(req, res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchBrowser();
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('shows each chain as a row: head, lag, pending, balances, state', async () => {
    for (const viewport of [
      { width: 1366, height: 900, name: 'laptop' },
      { width: 390, height: 844, name: 'phone' },
    ]) {
      const page = await browser.newPage({ viewport });
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      await page.goto(base);
      const rows = page.locator('#chains tbody tr');
      await until(async () => (await rows.count()) === 5, 10_000, 'five chain rows');
      const texts = await rows.allInnerTexts();
      for (const [i, name] of NAMES.entries()) expect(texts[i]).toContain(name);
      expect(texts[0]).toContain('19,000,000');
      expect(texts[0]).toContain('123456.000000000000000001 USDT');
      expect(texts[1]).toContain('1.21 BNB');
      expect(texts[1]).toContain('polling');
      expect(texts[2]).toContain('14 blocks');
      expect(texts[2]).toContain('2 in');
      expect(texts[2]).toContain('4 out');
      expect(texts[3]).toContain('node down');
      expect(texts[3]).toContain('the chain is not running');
      expect(texts[4]).toContain('running');
      expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('class')))).toEqual([
        null,
        null,
        'warning',
        'critical',
        null,
      ]);
      expect(await rendered(page.locator('#cards'))).toContain('4 / 5');
      expect(await rendered(page.locator('#alerts'))).toContain('chain ARBITRUM: the node has not answered');
      // Readable: nothing overflows sideways, and the five rows fit a laptop screen without scrolling far.
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(viewport.width);
      if (viewport.name === 'laptop') {
        const box = await page.locator('#chains').boundingBox();
        expect(box!.height).toBeLessThan(500);
      }
      await page.screenshot({
        path: join(ARTIFACTS, `status-five-chains-${viewport.name}.png`),
        fullPage: true,
      });
      expect(errors).toEqual([]);
      await page.close();
    }
  });
});
