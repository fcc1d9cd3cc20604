import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHistory, type HistorySample, type HistorySeries } from '../src/monitor/history.js';
import { LookupInputError, type LookupResult, parseLookupQuery } from '../src/monitor/lookup.js';
import type { StatusSnapshot } from '../src/monitor/status.js';
import { readHistory } from '../src/store/repos/audit.js';
import { launchBrowser } from './helpers/browser.js';
import { mineUntil, type TestChain } from './helpers/chain.js';
import { dbKinds } from './helpers/db.js';
import { newWallet, queueId } from './helpers/payouts.js';
import { randomAddress, testTuning, until } from './helpers/service.js';
import { startStack, type TestStack } from './helpers/stack.js';

const CONFIRM = 3;
const USDT = 1_000_000n;
const ETH = 10n ** 18n;
const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts');

interface ChartData {
  labels: string[];
  data: (number | null)[][];
}

/**
 * The status page's trends and lookup against the real stack: after a real deposit and a payout whose
 * first transaction is stuck and replaced, the charts drawn in Chromium hold those points, and the
 * lookup box finds the payout's whole history by its queue_id and by its replaced hash.
 */
describe.each(dbKinds)('status page charts and lookup on %s', (kind) => {
  let stack: TestStack;
  let chain: TestChain;
  let browser: Browser;
  let base: string;
  const collection = newWallet();
  const user = newWallet();
  const depositAddress = randomAddress();

  const status = async () => (await (await fetch(`${base}/status`)).json()) as StatusSnapshot;
  const history = async () => (await (await fetch(`${base}/status/history`)).json()) as HistorySeries;
  const sum = (values: readonly (number | null)[]) => values.reduce<number>((t, v) => t + (v ?? 0), 0);
  /** What uPlot holds for one chart: its series' labels and data (time first). */
  const chartData = (page: Page, key: string) =>
    page.evaluate((k) => {
      const c = (globalThis as unknown as { statusCharts: Record<string, { u: unknown }> }).statusCharts[k];
      if (!c) return undefined;
      const u = c.u as { data: (number | null)[][]; series: { label?: string }[] };
      return { labels: u.series.slice(1).map((s) => s.label ?? ''), data: u.data } as ChartData;
    }, key);
  // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what the operator reads
  const textOf = (page: Page, selector: string) => page.locator(selector).innerText();

  async function lookUp(page: Page, q: string) {
    await page.fill('#lookup-q', q);
    await page.click('#lookup button[type=submit]');
    await until(
      async () => ['done', 'error'].includes((await page.getAttribute('#lookup-result', 'data-state')) ?? ''),
      10_000,
      `lookup of ${q} answered`,
    );
  }

  beforeAll(async () => {
    stack = await startStack({
      db: kind,
      wallets: [collection, user],
      collection,
      confirmHeight: CONFIRM,
      replaceAfterBlocks: 2,
      tuning: { ...testTuning, monitor: { intervalMs: 150, balanceMs: 300, finalCountsMs: 150 } },
      collect: ['withdrawResp'],
      async prepareChain(c) {
        await c.setEthBalance(collection.address, ETH);
        await c.setEthBalance(user.address, 10n * ETH);
        await c.mint(collection.address, 500n * USDT);
        await c.mint(user.address, 100n * USDT);
        await c.mint(c.accounts[1]!.address, 100n * USDT);
      },
    });
    chain = stack.chain;
    base = stack.baseUrl();
    browser = await launchBrowser();
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.teardown();
  });

  it('charts real deposits, payouts and balances, and looks up a replaced payout’s whole history', async () => {
    const chainName = (await status()).chains[0]!.name;
    // A deposit, confirmed.
    await stack.watch(depositAddress);
    await chain.transfer(1, depositAddress, 12_500_000n);
    // A payout whose first transaction stays below the base fee until it is replaced.
    const id = queueId('chart');
    const to = randomAddress();
    await stack.withdraw({ queue_id: id, from_address: user.address, to_address: to, amount: '3' });
    const sent = await stack.waitState(id, ['sent']);
    const firstHash = sent.tx_hash!;
    const first = await stack.service.db
      .selectFrom('payout_txs')
      .selectAll()
      .where('tx_hash', '=', firstHash)
      .executeTakeFirstOrThrow();
    const stuckBelow = BigInt(first.max_fee_per_gas!) + 1n;
    await mineUntil(
      chain,
      async () => {
        await chain.testClient.setNextBlockBaseFeePerGas({ baseFeePerGas: stuckBelow });
        return (await stack.payout(id))?.state === 'confirmed';
      },
      'the replacement confirmed',
    );
    const confirmed = (await stack.payout(id))!;
    expect(confirmed.tx_hash).not.toBe(firstHash);
    await mineUntil(
      chain,
      async () => (await status()).recent.deposits.some((d) => d.status === 'confirmed'),
      'the deposit confirmed',
    );

    // The history JSON counts them (rows created since the service started, per step).
    await until(
      async () => {
        const h = await history();
        return sum(h.deposits) >= 1 && sum(h.payouts) >= 1 && Object.keys(h.balances).length > 0;
      },
      15_000,
      'the history showing the deposit, the payout and the balances',
    );
    const h = await history();
    expect(sum(h.deposits)).toBe(1);
    expect(sum(h.payouts)).toBe(1);
    expect(Object.keys(h.lag)).toEqual([chainName]);
    const usdtKey = `${chainName} USDT`;
    expect(h.balances[usdtKey]?.some((v) => v !== null && v > 0)).toBe(true);

    // The page draws them with the chart library the service serves.
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(msg.text());
    });
    await page.goto(base);
    await until(
      async () => (await chartData(page, `balance:${usdtKey}`)) !== undefined,
      15_000,
      'charts drawn',
    );
    const activity = (await chartData(page, 'activity'))!;
    expect(activity.labels).toEqual(['deposits', 'payouts']);
    expect(activity.data[0]!.length).toBeGreaterThanOrEqual(1);
    expect(sum(activity.data[1]!)).toBe(1);
    expect(sum(activity.data[2]!)).toBe(1);
    const lag = (await chartData(page, 'lag'))!;
    expect(lag.labels).toEqual([chainName]);
    expect(lag.data[1]!.some((v) => v !== null)).toBe(true);
    const backlog = (await chartData(page, 'backlog'))!;
    expect(backlog.data[1]!.some((v) => v !== null)).toBe(true);
    // The balance drawn is the one /status shows for the collection wallet.
    const balance = (await chartData(page, `balance:${usdtKey}`))!;
    const shown = (await status()).chains[0]!.collection!.balances.find((b) => b.symbol === 'USDT')!;
    await until(
      async () => (await chartData(page, `balance:${usdtKey}`))!.data[1]!.at(-1) === Number(shown.amount),
      15_000,
      `the balance chart at ${shown.amount}`,
    );
    expect(balance.data[1]!.filter((v) => v !== null).length).toBeGreaterThanOrEqual(1);
    expect(await page.getAttribute('[data-chart="activity"]', 'data-points')).toBe(
      String(activity.data[0]!.length),
    );
    await page.screenshot({ path: join(ARTIFACTS, `status-charts-${kind}.png`), fullPage: true });

    // The lookup by queue_id: every audit entry of the payout, both signed hashes among them.
    const audit = await readHistory(stack.service.db, { queueId: id });
    expect(audit.length).toBeGreaterThanOrEqual(4);
    await lookUp(page, id);
    expect(await page.getAttribute('#lookup-result', 'data-count')).toBe(String(audit.length));
    expect(await page.locator('#lookup-history tbody tr').count()).toBe(audit.length);
    const shownHistory = await textOf(page, '#lookup-history');
    for (const state of ['sent', 'mined', 'confirmed']) expect(shownHistory).toContain(state);
    const links = await page
      .locator('#lookup-history button.link')
      .evaluateAll((bs) => bs.map((b) => b.title));
    expect(links).toContain(firstHash);
    expect(links).toContain(confirmed.tx_hash);
    await page.screenshot({ path: join(ARTIFACTS, `status-lookup-${kind}.png`), fullPage: true });
    // On a phone: one chart a row, each within the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await until(
      async () => (await page.locator('[data-chart="activity"] canvas').boundingBox())!.width <= 390,
      10_000,
      'the charts resized to the phone',
    );
    await page.screenshot({ path: join(ARTIFACTS, `status-lookup-${kind}-phone.png`), fullPage: true });
    await page.setViewportSize({ width: 1366, height: 900 });

    // By the replaced hash, the same history.
    const byHash = (await (await fetch(`${base}/lookup?q=${firstHash}`)).json()) as LookupResult;
    expect(byHash.query).toEqual({ kind: 'tx_hash', txHash: firstHash });
    expect(byHash.history.map((e) => e.id)).toEqual(audit.map((r) => Number(r.id)));
    await lookUp(page, firstHash);
    expect(await page.getAttribute('#lookup-result', 'data-count')).toBe(String(audit.length));

    // An address: its deposits and payouts.
    await lookUp(page, depositAddress);
    expect(await textOf(page, '#lookup-deposits')).toContain('12.5 USDT');
    await lookUp(page, to.toUpperCase().replace('0X', '0x'));
    expect(
      await page.locator('#lookup-payouts button.link').evaluateAll((bs) => bs.map((b) => b.title)),
    ).toEqual([id]);
    const byUser = (await (await fetch(`${base}/lookup?q=${user.address}`)).json()) as LookupResult;
    expect(byUser.payouts.map((p) => p.queueId)).toEqual([id]);

    // Bad input: 400 with a message saying what q should be, shown on the page.
    for (const [q, message] of [
      ['', /q is empty/],
      ['0x1234', /0x and 4 hex digits: not a queue_id, a transaction hash/],
      ['a\u0001b', /control characters/],
      ['x'.repeat(201), /longer than 200/],
    ] as const) {
      const res = await fetch(`${base}/lookup?q=${encodeURIComponent(q)}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(message);
    }
    await lookUp(page, '0x1234');
    expect(await page.getAttribute('#lookup-result', 'data-state')).toBe('error');
    expect(await textOf(page, '#lookup-result')).toContain('0x and 4 hex digits');
    await lookUp(page, 'no-such-queue-id');
    expect(await textOf(page, '#lookup-result')).toContain('Nothing found for this queue id');
    await page.close();
    // Chromium logs the 400 answer it was given; nothing else went wrong on the page.
    expect(pageErrors.filter((e) => !e.includes('status of 400'))).toEqual([]);
    expect(pageErrors.length).toBe(1);
  });
});

describe('the monitor history', () => {
  const sample = (
    now: number,
    totals?: { deposits: number; payouts: number },
    balance?: number,
  ): HistorySample => ({
    now,
    totals,
    lag: { ETH: 1 },
    outboxBacklog: 0,
    balances: balance === undefined ? {} : { 'ETH USDT': balance },
  });

  it('counts rows created per step from the totals, not those before the first sample, and keeps a bounded number of points', () => {
    const h = createHistory({ stepMs: 1000, capacity: 3 });
    h.record(sample(10_000, { deposits: 5, payouts: 2 }, 100)); // what existed before: the baseline
    h.record(sample(10_500, { deposits: 6, payouts: 2 }));
    h.record(sample(10_900)); // active states only: no totals, the step keeps its count
    h.record(sample(11_200, { deposits: 8, payouts: 3 }, 90));
    h.record(sample(13_000, { deposits: 8, payouts: 3 }));
    expect(h.series()).toMatchObject({
      t: [10_000, 11_000, 13_000],
      deposits: [1, 2, 0],
      payouts: [0, 1, 0],
      balances: { 'ETH USDT': [100, 90, null] },
      lag: { ETH: [1, 1, 1] },
    });
    h.record(sample(14_000, { deposits: 9, payouts: 3 }));
    const s = h.series();
    expect(s.t).toEqual([11_000, 13_000, 14_000]);
    expect(s.deposits).toEqual([2, 0, 1]);
  });
});

describe('the lookup query', () => {
  it('tells a tx hash, an address and a queue_id apart, and refuses what is none of them', () => {
    const hash = `0x${'Ab'.repeat(32)}`;
    const address = `0x${'Cd'.repeat(20)}`;
    expect(parseLookupQuery(` ${hash} `)).toEqual({ kind: 'tx_hash', txHash: hash.toLowerCase() });
    expect(parseLookupQuery(address)).toEqual({ kind: 'address', address: address.toLowerCase() });
    expect(parseLookupQuery('q-1')).toEqual({ kind: 'queue_id', queueId: 'q-1' });
    expect(() => parseLookupQuery(null)).toThrow(LookupInputError);
    expect(() => parseLookupQuery('0xabc')).toThrow(/0x and 3 hex digits/);
  });
});
