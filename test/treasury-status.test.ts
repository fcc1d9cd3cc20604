import type { Browser, Locator } from 'playwright-core';
import type { Address } from 'viem';
import { english, generateMnemonic } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatAmount } from '../src/money/amount.js';
import type { StatusSnapshot } from '../src/monitor/status.js';
import type { PayoutRow } from '../src/store/schema.js';
import { issueAddress } from '../src/treasury/issue.js';
import type { Sweeper } from '../src/treasury/sweeper.js';
import { launchBrowser } from './helpers/browser.js';
import { mineUntil } from './helpers/chain.js';
import { dbKinds } from './helpers/db.js';
import { metricValue, scrapeMetrics } from './helpers/metrics.js';
import { newWallet } from './helpers/payouts.js';
import { testTuning, until } from './helpers/service.js';
import { startStack, type TestStack } from './helpers/stack.js';

/**
 * The operator's view of sweeping (issue 12 item 4, docs/TREASURY.md §4.4): `/status`'s `treasury`, the
 * status page's treasury panel and the `sweep_gas` alert, on a real anvil and database: what the issued
 * deposit wallets hold, exact; the gas wallet's balance against what the round needs; the alert and the
 * row's warning while the gas wallet cannot fund the round, gone once it can again.
 */

const E6 = 1_000_000n;
const E18 = 10n ** 18n;
const GWEI = 1_000_000_000n;
// biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what the operator reads
const rendered = (locator: Locator) => locator.innerText();

describe.each(dbKinds)('the treasury on the operator side, on %s', (kind) => {
  let stack: TestStack;
  let sweeper: Sweeper;
  let browser: Browser;
  let wallet: Address;
  const collection = newWallet();
  const gas = newWallet();

  beforeAll(async () => {
    stack = await startStack({
      db: kind,
      collection,
      // The gas wallet's key is in the vault: it can sign the top-ups.
      wallets: [gas],
      tuning: {
        ...testTuning,
        monitor: { intervalMs: 150, balanceMs: 300, finalCountsMs: 150 },
      },
      prepareChain: async (c) => {
        await c.setEthBalance(collection.address, 10n * E18);
        await c.mint(collection.address, 1_000n * E6);
        await c.setEthBalance(gas.address, E18);
      },
      configure(config) {
        config.chains[0]!.sweep = {
          enabled: true,
          // Rounds come from the test (sweepNow) and the follow-up after top-ups, not the clock.
          intervalSeconds: 3_600,
          minAmountRaw: { USDT: 50n * E6 },
          maxFeePerGasWei: 30n * GWEI,
          keepDustRaw: { USDT: 1n },
          gasWalletLc: gas.address,
        };
      },
    });
    await stack.service.vault.initHd(generateMnemonic(english, 256));
    const parts = stack.service.partsOf('ETH');
    if (!parts.sweeper) throw new Error('the ETH lane has no sweeper');
    sweeper = parts.sweeper;
    wallet = (
      await issueAddress(stack.service.db, { config: stack.config, vault: stack.service.vault }, 'alice')
    ).address.toLowerCase() as Address;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.teardown();
  });

  const status = async () => (await (await fetch(`${stack.baseUrl()}/status`)).json()) as StatusSnapshot;
  const treasuryOf = (s: StatusSnapshot) => s.treasury.find((t) => t.chain === 'ETH')!;
  const sweepGas = (s: StatusSnapshot) => s.alerts.filter((a) => a.name === 'sweep_gas');
  /** The status once the monitor sampled after `since` and the collection wallet's balances read `usdt`. */
  const sampledAfter = (since: number, usdt: string) =>
    until(
      async () => {
        const s = await status();
        const t = treasuryOf(s);
        const fresh = (s.sampledAt ?? 0) > since && (t.collection?.readAt ?? 0) > since;
        return fresh && t.collection?.balances.USDT === usdt ? s : undefined;
      },
      15_000,
      `a sample after the round, the collection wallet at ${usdt} USDT`,
    );
  const treasuryRows = () =>
    stack.service.db
      .selectFrom('payouts')
      .selectAll()
      .where('kind', 'in', ['sweep', 'gas_topup'])
      .where((eb) => eb.or([eb('from_address', '=', wallet), eb('to_address', '=', wallet)]))
      .execute() as Promise<PayoutRow[]>;
  const openPage = async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(stack.baseUrl());
    return { page, errors, row: page.locator('#treasury tbody tr', { hasText: 'ETH' }) };
  };

  it('shows what the deposit wallets hold and a gas wallet that can fund the round; no alert', async () => {
    await stack.chain.mint(wallet, 123_456_789n);
    await stack.chain.mine(3); // the deposit at the newest confirmed block, which the plan reads
    const round = await sweeper.sweepNow();
    expect(round.orders.topUps).toBe(1);
    const needed = round.plan.gasWallet.needed;
    expect(needed).toBeGreaterThan(0n);

    const s = await sampledAfter(Date.now(), '1000');
    expect(treasuryOf(s)).toMatchObject({
      chain: 'ETH',
      running: true,
      native: 'ETH',
      enabled: true,
      intervalSeconds: 3_600,
      lastSweepAt: null,
      held: { ETH: '0', USDT: '123.456789' },
      walletsAbove: 1,
      gasWallet: { address: gas.address, balance: '1', needed: formatAmount(needed, 18), canFund: true },
      collection: { address: collection.address, balances: { ETH: '10', USDT: '1000' } },
    });
    expect(treasuryOf(s).lastRound).toMatch(/^block \d+: 1 top-up\(s\), 0 sweep\(s\) stored$/);
    expect(treasuryOf(s).lastRoundAt).toEqual(expect.any(Number));
    expect(sweepGas(s)).toEqual([]);
    const metrics = await scrapeMetrics(stack.baseUrl());
    expect(metricValue(metrics, 'm2pool_alert', { name: 'sweep_gas', chain: 'ETH' })).toBe(0);
    expect(metricValue(metrics, 'm2pool_treasury_gas_wallet_can_fund', { chain: 'ETH' })).toBe(1);

    const { page, errors, row } = await openPage();
    await until(async () => (await row.count()) === 1, 10_000, 'the treasury row');
    const text = await rendered(row);
    expect(text).toContain('123.456789 USDT');
    expect(text).toContain(`round needs ${formatAmount(needed, 18)} ETH`);
    expect(text).not.toContain('cannot fund');
    expect(await row.getAttribute('class')).toBeNull();
    expect(errors).toEqual([]);
    await page.close();

    // The top-up, then the sweep it paid for (the sweeper's follow-up): both final before the next part.
    await mineUntil(
      stack.chain,
      async () => {
        const rows = await treasuryRows();
        return rows.length === 2 && rows.every((r) => r.state === 'confirmed');
      },
      'top-up and sweep confirmed',
    );
  });

  it('fires sweep_gas and marks the row while the gas wallet cannot fund the round, clears once it can', async () => {
    // A new deposit to sweep, no gas of its own left, and an empty gas wallet.
    await stack.chain.mint(wallet, 60n * E6);
    await stack.chain.setEthBalance(wallet, 0n);
    await stack.chain.setEthBalance(gas.address, 0n);
    await stack.chain.mine(3);
    const round = await sweeper.sweepNow();
    expect(round.plan.gasWallet.canFund).toBe(false);
    expect(round.stored).toEqual([]);
    expect(round.orders.waiting).toEqual([{ address: wallet, why: 'gas_wallet_short' }]);

    const s = await until(
      async () => {
        const now = await status();
        return sweepGas(now).length ? now : undefined;
      },
      15_000,
      'the sweep_gas alert',
    );
    expect(sweepGas(s)).toEqual([
      expect.objectContaining({
        severity: 'warning',
        chain: 'ETH',
        message: expect.stringMatching(
          /^chain ETH: the gas wallet 0x[0-9a-f]{40} cannot fund the sweep round/,
        ),
      }),
    ]);
    const t = treasuryOf(s);
    // Left in the wallet: the new 60 and the 1-unit dust the first sweep kept.
    expect(t.held).toEqual({ ETH: '0', USDT: '60.000001' });
    expect(t.walletsAbove).toBe(1);
    expect(t.gasWallet).toEqual({
      address: gas.address,
      balance: '0',
      needed: formatAmount(round.plan.gasWallet.needed, 18),
      canFund: false,
    });
    // The first part's sweep was stored by the follow-up round.
    expect(t.lastSweepAt).toEqual(expect.any(Number));
    expect(t.lastRound).toMatch(/0 top-up\(s\), 0 sweep\(s\) stored, 1 wallet\(s\) waiting$/);
    const metrics = await scrapeMetrics(stack.baseUrl());
    expect(
      metricValue(metrics, 'm2pool_alert', { name: 'sweep_gas', severity: 'warning', chain: 'ETH' }),
    ).toBe(1);
    expect(metricValue(metrics, 'm2pool_treasury_gas_wallet_can_fund', { chain: 'ETH' })).toBe(0);
    // The first sweep reached the collection wallet, as its row on the panel shows.
    await sampledAfter(Date.now(), '1123.456788');

    const { page, errors, row } = await openPage();
    await until(async () => (await rendered(row)).includes('cannot fund'), 10_000, 'the row: cannot fund');
    expect(await row.getAttribute('class')).toBe('warning');
    const text = await rendered(row);
    expect(text).toContain('60.000001 USDT');
    expect(text).toContain('1123.456788 USDT');
    expect(text).toContain('1 wallet(s) waiting');
    expect(await rendered(page.locator('#alerts'))).toContain('chain ETH: the gas wallet');

    // Funded again: the next round can pay, and the alert and the warning go.
    await stack.chain.setEthBalance(gas.address, E18);
    await stack.chain.mine(3);
    expect((await sweeper.sweepNow()).plan.gasWallet.canFund).toBe(true);
    await until(async () => sweepGas(await status()).length === 0, 15_000, 'the sweep_gas alert cleared');
    await until(
      async () => !(await rendered(row)).includes('cannot fund'),
      10_000,
      'the row without warning',
    );
    expect(await row.getAttribute('class')).toBeNull();
    expect(errors).toEqual([]);
    await page.close();
  });
});
