import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusSnapshot } from '../src/monitor/status.js';
import { launchBrowser } from './helpers/browser.js';
import { mineUntil, type TestChain } from './helpers/chain.js';
import { dbKinds } from './helpers/db.js';
import { metricValue, scrapeMetrics } from './helpers/metrics.js';
import { newWallet, queueId, signedWithdraw } from './helpers/payouts.js';
import type { BusinessClient, Collector, TestQueues } from './helpers/rabbit.js';
import { randomAddress, testTuning, until } from './helpers/service.js';
import { startStack, type TestStack } from './helpers/stack.js';

const CONFIRM = 3;
const USDT = 1_000_000n;
const ETH = 10n ** 18n;
const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts');

/**
 * The operator's side against the real stack (anvil, RabbitMQ, the database): /metrics moving with a
 * real deposit and real payouts, alerts crossing their thresholds, and the status page in Chromium.
 * Topup responses are deliberately not consumed, so they wait in their queue (queue usage).
 */
describe.each(dbKinds)('metrics, alerts and the status page on %s', (kind) => {
  let stack: TestStack;
  let chain: TestChain;
  let queues: TestQueues;
  let business: BusinessClient;
  let withdrawResp: Collector;
  let browser: Browser;
  let base: string;
  const collection = newWallet();
  const user = newWallet();
  const depositAddress = randomAddress();

  const service = () => stack.service;
  const status = async () => (await (await fetch(`${base}/status`)).json()) as StatusSnapshot;
  // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what the operator reads
  const textOf = (page: Page, selector: string) => page.locator(selector).innerText();
  const pageShows = (page: Page, selector: string, text: string) =>
    until(async () => (await textOf(page, selector)).includes(text), 15_000, `${selector} showing ${text}`);

  beforeAll(async () => {
    stack = await startStack({
      db: kind,
      wallets: [collection, user],
      collection,
      confirmHeight: CONFIRM,
      // Low thresholds so the test crosses them; the rest keep their defaults.
      alerts: { pending: { warning: 1, critical: 1_000 }, queueCapacity: 2 },
      tuning: { ...testTuning, monitor: { intervalMs: 150, balanceMs: 300, finalCountsMs: 150 } },
      // Topup responses are not collected: they wait in their queue.
      collect: ['withdrawResp'],
      async prepareChain(c) {
        await c.setEthBalance(collection.address, ETH);
        await c.setEthBalance(user.address, 10n * ETH);
        await c.mint(collection.address, 500n * USDT);
        await c.mint(user.address, 100n * USDT);
        await c.mint(c.accounts[1]!.address, 100n * USDT);
      },
    });
    ({ chain, queues, business } = stack);
    withdrawResp = stack.collector('withdrawResp');
    base = stack.baseUrl();
    browser = await launchBrowser();
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.teardown();
  });

  it('shows a real deposit and real payouts on /metrics, /status and the page, and raises alerts', async () => {
    const before = await scrapeMetrics(base);
    expect(metricValue(before, 'm2pool_deposits', { status: 'pending' })).toBe(0);
    expect(metricValue(before, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(metricValue(before, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(metricValue(before, 'm2pool_queue_usage_ratio', { role: 'withdraw' })).toBe(0);
    expect(metricValue(before, 'm2pool_alert', { name: 'pending', severity: 'warning' })).toBe(0);
    const heightBefore = metricValue(before, 'm2pool_chain_block_height')!;

    // A deposit, seen but not confirmed; two payouts sent but not mined: 3 pending > 1.
    await stack.watch(depositAddress);
    await chain.transfer(1, depositAddress, 12_500_000n);
    await chain.mine(1);
    const payouts = [
      { id: queueId('mon'), to: randomAddress(), amount: '7.5' },
      { id: queueId('mon'), to: randomAddress(), amount: '2.25' },
    ];
    for (const p of payouts) {
      await business.publishRequest(
        queues.withdraw,
        signedWithdraw({ queue_id: p.id, from_address: user.address, to_address: p.to, amount: p.amount }),
      );
    }
    await until(
      async () => {
        const s = await status();
        return (
          s.deposits.pending.length === 1 &&
          s.payouts.pending.filter((p) => p.state === 'sent').length === 2 &&
          // The sample counts before it reads the lists: wait for a count taken after all three.
          s.alerts.some((a) => a.name === 'pending' && a.message.startsWith('3 '))
        );
      },
      30_000,
      'one pending deposit, two sent payouts, the pending alert for all three',
    );
    const pendingStatus = await status();
    expect(pendingStatus.alerts).toContainEqual({
      name: 'pending',
      severity: 'warning',
      message: '3 transactions pending (warning above 1)',
    });
    expect(pendingStatus.deposits.pending[0]).toMatchObject({
      address: depositAddress,
      amount: '12.5',
      symbol: 'USDT',
      status: 'pending',
    });
    const mid = await scrapeMetrics(base);
    expect(metricValue(mid, 'm2pool_alert', { name: 'pending', severity: 'warning' })).toBe(1);
    expect(metricValue(mid, 'm2pool_transactions_pending', { kind: 'payout' })).toBe(2);

    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(msg.text());
    });
    await page.goto(base);
    await pageShows(page, '#pending-deposits', '12.5 USDT');
    await pageShows(page, '#pending-payouts', '7.5 USDT');
    await pageShows(page, '#pending-payouts', '2.25 USDT');
    await pageShows(page, '#alerts', '3 transactions pending');
    // The instance sends for the payouts' wallet while they are in flight: its lease on the page, by chain.
    await pageShows(page, '#instances', 'sender:ETH × 1');
    // In the metrics as one series per chain with the count of wallets, not one per wallet.
    expect(await scrapeMetrics(base)).toMatch(
      /m2pool_instance_role\{instance="[0-9a-f]+",role="sender:ETH"\} 1\n/,
    );
    expect(await textOf(page, '#pending-deposits')).toMatch(/\d+ \/ 3/); // confirmations of 3
    await page.screenshot({ path: join(ARTIFACTS, `status-${kind}-laptop-pending.png`), fullPage: true });

    // Everything confirmed.
    await mineUntil(
      chain,
      async () => {
        const done = payouts.every((p) =>
          withdrawResp.messages.some((m) => (m.json as { queue_id: string }).queue_id === p.id),
        );
        const deposit = await service()
          .db.selectFrom('deposits')
          .select('status')
          .where('to_address', '=', depositAddress)
          .executeTakeFirst();
        return done && deposit?.status === 'confirmed';
      },
      'payouts answered and the deposit confirmed',
    );

    // A refused request whose queue id and address are HTML: shown as text, never run.
    const evilId = `<img src=x onerror="window.__xss=1">${queueId('x')}`;
    const evilTo = '<script>window.__xss=2</script>';
    await business.publishRequest(
      queues.withdraw,
      signedWithdraw({ queue_id: evilId, from_address: user.address, to_address: evilTo, amount: '1' }),
    );
    await withdrawResp.waitFor((m) => (m.json as { queue_id: string }).queue_id === evilId);

    const after = await until(
      async () => {
        const text = await scrapeMetrics(base);
        const failed = metricValue(text, 'm2pool_payouts', { state: 'failed' });
        return failed === 1 && metricValue(text, 'm2pool_outbox_backlog') === 0 ? text : undefined;
      },
      15_000,
      'metrics after the payouts',
    );
    expect(metricValue(after, 'm2pool_deposits', { status: 'confirmed' })).toBe(1);
    expect(metricValue(after, 'm2pool_deposits', { status: 'pending' })).toBe(0);
    expect(metricValue(after, 'm2pool_payouts', { state: 'confirmed' })).toBe(2);
    expect(metricValue(after, 'm2pool_transactions', { kind: 'deposit' })).toBe(1);
    expect(metricValue(after, 'm2pool_transactions', { kind: 'payout' })).toBe(3);
    expect(metricValue(after, 'm2pool_transactions_failed', { kind: 'payout' })).toBe(1);
    expect(metricValue(after, 'm2pool_transactions_pending', { kind: 'payout' })).toBe(0);
    expect(metricValue(after, 'm2pool_deposit_transitions_total', { status: 'pending' })).toBe(1);
    expect(metricValue(after, 'm2pool_deposit_transitions_total', { status: 'confirmed' })).toBe(1);
    expect(metricValue(after, 'm2pool_payout_transitions_total', { from: 'accepted', to: 'signed' })).toBe(2);
    expect(metricValue(after, 'm2pool_payout_transitions_total', { from: 'mined', to: 'confirmed' })).toBe(2);
    expect(metricValue(after, 'm2pool_outbox_published_total')).toBeGreaterThanOrEqual(5);
    expect(metricValue(after, 'm2pool_outbox_backlog')).toBe(0);
    // Series about the chain carry its name; the service-wide ones carry none.
    const eth = { chain: 'ETH' };
    expect(metricValue(after, 'm2pool_chain_block_height', eth)).toBeGreaterThan(heightBefore + CONFIRM);
    expect(metricValue(after, 'm2pool_chain_node_head', eth)).toBe(Number(await chain.blockNumber()));
    expect(metricValue(after, 'm2pool_watcher_lag_blocks', eth)).toBeLessThanOrEqual(1);
    expect(metricValue(after, 'm2pool_deposits', { ...eth, status: 'confirmed' })).toBe(1);
    expect(metricValue(after, 'm2pool_payouts', { ...eth, state: 'confirmed' })).toBe(2);
    expect(metricValue(after, 'm2pool_transactions_pending', { ...eth, kind: 'deposit' })).toBe(0);
    expect(metricValue(after, 'm2pool_deposit_transitions_total', { ...eth, status: 'confirmed' })).toBe(1);
    expect(
      metricValue(after, 'm2pool_payout_transitions_total', { ...eth, from: 'accepted', to: 'signed' }),
    ).toBe(2);
    expect(
      metricValue(after, 'm2pool_wallet_balance', { ...eth, symbol: 'USDT', wallet: 'collection' }),
    ).toBe(500);
    expect(metricValue(after, 'm2pool_wallet_balance', { ...eth, symbol: 'ETH' })).toBe(1);
    expect(metricValue(after, 'm2pool_alert', { name: 'node_down', ...eth })).toBe(0);
    for (const line of after.split('\n').filter((l) => /^m2pool_(outbox|broker|queue|dead)/.test(l))) {
      expect(line).not.toContain('chain=');
    }
    expect(metricValue(after, 'm2pool_broker_connected')).toBe(1);
    // The two topup responses wait in their (unconsumed) queue: 2 of a capacity of 2.
    expect(metricValue(after, 'm2pool_queue_messages', { role: 'topup_resp' })).toBe(2);
    expect(metricValue(after, 'm2pool_queue_usage_ratio', { role: 'topup_resp' })).toBe(1);
    expect(metricValue(after, 'm2pool_alert', { name: 'queue_usage', severity: 'critical' })).toBe(1);
    expect(metricValue(after, 'm2pool_alert', { name: 'pending', severity: 'warning' })).toBe(0);

    await pageShows(page, '#recent', '12.5 USDT');
    await pageShows(page, '#recent', '7.5 USDT');
    await pageShows(page, '#recent', evilId);
    const recent = await textOf(page, '#recent');
    expect(recent).toContain('confirmed');
    expect(recent).toContain('invalid_address');
    expect(await page.locator('#recent img, #recent script').count()).toBe(0);
    // The page's globals, seen from Node: no DOM types in this project.
    expect(await page.evaluate('window.__xss')).toBeUndefined();
    const s = await status();
    expect(s.chains).toHaveLength(1);
    expect(s.chains[0]).toMatchObject({
      name: 'ETH',
      chainId: chain.anvil.chainId,
      state: 'running',
      confirmHeight: CONFIRM,
      nodeDown: null,
      pending: { deposits: 0, payouts: 0 },
      deposits: { confirmed: 1 },
      payouts: { confirmed: 2, failed: 1 },
      collection: {
        address: collection.address.toLowerCase(),
        balances: [
          { symbol: 'ETH', native: true, decimals: 18, amount: '1' },
          { symbol: 'USDT', native: false, decimals: 6, amount: '500' },
        ],
        error: null,
      },
    });
    expect(s.chain).toEqual(s.chains[0]);
    await pageShows(page, '#chains', s.chains[0]!.tip!.toLocaleString('en-US'));
    await pageShows(page, '#chains', '500 USDT');
    await pageShows(page, '#chains', '1 ETH');
    await pageShows(page, '#chains', 'running');
    expect(await textOf(page, '#pending-deposits')).toContain('No pending deposits');
    await pageShows(page, '#alerts', 'queue');

    // The collection wallet drained below the gas floor (0.05 ETH by default).
    await chain.setEthBalance(collection.address, ETH / 1000n);
    await pageShows(page, '#alerts', 'collection wallet has 0.001 ETH for gas (floor 0.05)');
    const drained = await scrapeMetrics(base);
    expect(
      metricValue(drained, 'm2pool_alert', { name: 'collection_gas', severity: 'critical', chain: 'ETH' }),
    ).toBe(1);
    expect(metricValue(drained, 'm2pool_wallet_balance', { symbol: 'ETH', chain: 'ETH' })).toBe(0.001);
    expect((await status()).alerts).toContainEqual({
      name: 'collection_gas',
      severity: 'critical',
      chain: 'ETH',
      message: 'chain ETH: collection wallet has 0.001 ETH for gas (floor 0.05)',
    });
    await page.screenshot({ path: join(ARTIFACTS, `status-${kind}-laptop.png`), fullPage: true });

    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    await phone.goto(base);
    await pageShows(phone, '#alerts', 'collection wallet has 0.001 ETH');
    await pageShows(phone, '#recent', '7.5 USDT');
    await phone.screenshot({ path: join(ARTIFACTS, `status-${kind}-phone.png`), fullPage: true });
    // Nothing overflows sideways on a phone.
    expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    expect(pageErrors).toEqual([]);
  });

  it('counts reorganisations with their depth, and dead-lettered messages by queue', async () => {
    await chain.mine(2);
    await new Promise((r) => setTimeout(r, 500)); // the watcher takes both blocks
    // With a transaction: empty replacement blocks can hash the same as the blocks they replace.
    await chain.reorg(2, [[await chain.signTransfer(1, randomAddress(), 1n), 0]]);
    await chain.mine(1);
    await business.publishRequest(queues.topup, 'not json at all');
    const text = await until(
      async () => {
        const t = await scrapeMetrics(base);
        const reorgs = metricValue(t, 'm2pool_reorgs_total') ?? 0;
        const dead = metricValue(t, 'm2pool_dead_letters_total', { queue: queues.topup.queue }) ?? 0;
        return reorgs >= 1 && dead >= 1 ? t : undefined;
      },
      20_000,
      'a reorg and a dead letter counted',
    );
    expect(metricValue(text, 'm2pool_reorgs_total', { chain: 'ETH' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'm2pool_reorg_depth_blocks_count', { chain: 'ETH' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'm2pool_reorg_depth_blocks_sum', { chain: 'ETH' })).toBe(2);
    expect(metricValue(text, 'm2pool_reorg_depth_blocks_bucket', { chain: 'ETH', le: '1' })).toBe(0);
    expect(metricValue(text, 'm2pool_reorg_depth_blocks_bucket', { chain: 'ETH', le: '2' })).toBe(1);
    expect(metricValue(text, 'm2pool_dead_letters_total', { queue: queues.topup.queue })).toBe(1);
  });
});
