import type { Address, Hex } from 'viem';
import { english, generateMnemonic, mnemonicToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NATIVE_ADDRESS_LC } from '../src/config/chains.js';
import type { PayoutRow } from '../src/store/schema.js';
import { issueAddress } from '../src/treasury/issue.js';
import type { Sweeper } from '../src/treasury/sweeper.js';
import { mineUntil } from './helpers/chain.js';
import { dbKinds } from './helpers/db.js';
import { newWallet } from './helpers/payouts.js';
import { until } from './helpers/service.js';
import { startStack, type TestStack } from './helpers/stack.js';

/**
 * The sweeper on a real anvil and database (issue 12 item 3, docs/TREASURY.md §4): deposits to issued
 * addresses answered 2 then 1 and later swept into the collection wallet, exact to the unit, the gas
 * topped up with only what the sweep needs; a round skipped above the fee cap; a withdrawal from a wallet
 * during its sweep paid, the sweep taking only the rest; no business answer and no deposit for the
 * service's own transfers; no key or mnemonic in the logs or the database.
 */

const E6 = 1_000_000n;
const GWEI = 1_000_000_000n;

describe.each(dbKinds)('sweeping issued deposit wallets on %s', (kind) => {
  let stack: TestStack;
  const collection = newWallet();
  const mnemonic = generateMnemonic(english, 256);
  let sweeper: Sweeper;
  let token: Address;

  beforeAll(async () => {
    stack = await startStack({
      db: kind,
      collection,
      collect: ['topupResp', 'withdrawResp'],
      prepareChain: async (c) => {
        await c.setEthBalance(collection.address, 10n ** 19n);
        await c.mint(collection.address, 1_000n * E6);
      },
      configure(config) {
        config.chains[0]!.sweep = {
          enabled: true,
          // Rounds come from the test (sweepNow) and from the follow-up after top-ups, not the clock.
          intervalSeconds: 3_600,
          minAmountRaw: { USDT: 50n * E6 },
          maxFeePerGasWei: 30n * GWEI,
          keepDustRaw: { USDT: 1n },
          gasWalletLc: collection.address,
        };
      },
    });
    token = stack.chain.token;
    await stack.service.vault.initHd(mnemonic);
    const parts = stack.service.partsOf('ETH');
    if (!parts?.sweeper) throw new Error('the ETH lane has no sweeper');
    sweeper = parts.sweeper;
  });
  afterAll(async () => {
    await stack?.teardown();
  });

  const issue = async (user: string) =>
    (await issueAddress(stack.service.db, { config: stack.config, vault: stack.service.vault }, user))
      .address as Address;
  const treasuryRows = (wallet: string) =>
    stack.service.db
      .selectFrom('payouts')
      .selectAll()
      .where('kind', 'in', ['sweep', 'gas_topup'])
      .where((eb) => eb.or([eb('from_address', '=', wallet), eb('to_address', '=', wallet)]))
      .orderBy('created_at')
      .execute() as Promise<PayoutRow[]>;
  const allFinal = async (wallet: string) => {
    const rows = await treasuryRows(wallet);
    return rows.length > 0 && rows.every((r) => r.state === 'confirmed' || r.state === 'failed');
  };
  const receiptOf = (hash: string) => stack.chain.publicClient.getTransactionReceipt({ hash: hash as Hex });

  it('answers a deposit 2 then 1, then sweeps it: exact amounts, a top-up of only the gas the sweep needs', async () => {
    const wallet = await issue('alice');
    const collectionBefore = await stack.chain.balanceOf(collection.address);
    await stack.chain.mint(wallet, 123_456_789n);
    // Not final yet: a deposit a reorganisation may still take is never swept.
    expect((await sweeper.sweepNow()).plan.wallets).toEqual([]);
    const topups = stack.collector('topupResp');
    const answersFor = () =>
      topups.messages
        .map((m) => m.json as { address: string; status: number; tx_hash: string })
        .filter((m) => m.address === wallet.toLowerCase());
    await mineUntil(stack.chain, () => answersFor().some((m) => m.status === 1), 'the deposit confirmed');
    expect(answersFor().map((m) => m.status)).toEqual([2, 1]);

    const round = await sweeper.sweepNow();
    expect(round.orders.topUps).toBe(1);
    // The top-up, then (the sweeper's follow-up once it is final) the sweep; both confirmed.
    await mineUntil(
      stack.chain,
      async () => (await treasuryRows(wallet)).length === 2 && (await allFinal(wallet)),
      'top-up and sweep confirmed',
    );
    const [topUp, sweep] = await treasuryRows(wallet);
    expect(topUp).toMatchObject({ kind: 'gas_topup', state: 'confirmed', to_address: wallet.toLowerCase() });
    expect(sweep).toMatchObject({
      kind: 'sweep',
      state: 'confirmed',
      amount_raw: '123456788',
      symbol: 'USDT',
    });
    expect(await stack.chain.balanceOf(collection.address)).toBe(collectionBefore + 123_456_788n);
    expect(await stack.chain.balanceOf(wallet)).toBe(1n);

    // The top-up is the sweep's planned gas at the price it was signed with; the sweep used no more.
    const sweepTx = await stack.service.db
      .selectFrom('payout_txs')
      .selectAll()
      .where('queue_id', '=', sweep!.queue_id)
      .executeTakeFirstOrThrow();
    const topUpRaw = BigInt(topUp!.amount_raw);
    const used = await receiptOf(sweep!.tx_hash!);
    const spent = used.gasUsed * used.effectiveGasPrice;
    const planned = await stack.service.db
      .selectFrom('audit_log')
      .select('detail')
      .where('ref', '=', topUp!.queue_id)
      .where('to_state', '=', 'accepted')
      .executeTakeFirstOrThrow();
    const price = BigInt(
      (JSON.parse(planned.detail!) as { planned_max_fee_per_gas: string }).planned_max_fee_per_gas,
    );
    // What the sweep's gas limit costs at the planned price: the most it can cost, signed at or below it.
    expect(topUpRaw).toBe(BigInt(sweep!.gas_limit!) * price);
    expect(BigInt(sweepTx.max_fee_per_gas!)).toBeLessThanOrEqual(price);
    expect(spent).toBeLessThanOrEqual(topUpRaw);
    expect(spent).toBeGreaterThan(0n);
    expect(await stack.chain.publicClient.getBalance({ address: wallet })).toBe(topUpRaw - spent);

    // The service's own transfers: no deposit (the top-up landed on a watched address), no answer.
    await stack.settled();
    const deposits = await stack.service.db
      .selectFrom('deposits')
      .select(['tx_hash', 'token_address'])
      .where('to_address', '=', wallet.toLowerCase())
      .execute();
    expect(deposits.map((d) => d.token_address)).toEqual([token.toLowerCase()]);
    expect(answersFor().map((m) => m.status)).toEqual([2, 1]);
    const answered = stack
      .collector('withdrawResp')
      .messages.map((m) => (m.json as { queue_id: string }).queue_id);
    expect(answered).not.toContain(topUp!.queue_id);
    expect(answered).not.toContain(sweep!.queue_id);
    const audit = await stack.service.db
      .selectFrom('audit_log')
      .select('to_state')
      .where('ref', '=', sweep!.queue_id)
      .execute();
    // Every state in the audit trail (a slow block may add a `replaced` event after `sent`).
    expect(audit.map((a) => a.to_state).filter((s) => s !== 'replaced')).toEqual([
      'accepted',
      'signed',
      'sent',
      'mined',
      'confirmed',
    ]);

    // Nothing left to sweep: a round stores nothing.
    expect((await sweeper.sweepNow()).stored).toEqual([]);
  });

  it('skips a round while the fee is above maxFeeGwei, and sweeps once it is below', async () => {
    const wallet = await issue('bob');
    // Its gas first: the mint's block then holds both (a round reads balances at a confirmed block).
    await stack.chain.setEthBalance(wallet, 10n ** 17n); // pays its own gas: no top-up
    await stack.chain.mint(wallet, 75n * E6);
    await stack.chain.mine(2); // a confirmed balance: only those are swept
    await stack.chain.testClient.setNextBlockBaseFeePerGas({ baseFeePerGas: 100n * GWEI });
    await stack.chain.mine(1);
    const skipped = await sweeper.sweepNow();
    expect(skipped.plan.skipped).toMatch(/above maxFeeGwei 30/);
    expect(skipped.stored).toEqual([]);
    expect(await treasuryRows(wallet.toLowerCase())).toEqual([]);

    await stack.chain.testClient.setNextBlockBaseFeePerGas({ baseFeePerGas: GWEI });
    await stack.chain.mine(1);
    const round = await sweeper.sweepNow();
    expect(round.plan.skipped).toBeUndefined();
    expect(round.orders.topUps).toBe(0);
    await mineUntil(stack.chain, () => allFinal(wallet.toLowerCase()), 'sweep confirmed');
    const rows = await treasuryRows(wallet.toLowerCase());
    expect(rows.map((r) => [r.kind, r.state, r.amount_raw])).toEqual([['sweep', 'confirmed', '74999999']]);
  });

  it('sends a sweep with the gas money its top-up gave when the base fee rose since: one top-up, no refusal', async () => {
    const wallet = (await issue('dave')).toLowerCase() as Address;
    await stack.chain.testClient.setNextBlockBaseFeePerGas({ baseFeePerGas: GWEI });
    await stack.chain.mint(wallet, 80n * E6);
    await stack.chain.mine(3);
    expect((await sweeper.sweepNow()).orders.topUps).toBe(1);
    const [topUp] = await treasuryRows(wallet);
    const planned = await stack.service.db
      .selectFrom('audit_log')
      .select('detail')
      .where('ref', '=', topUp!.queue_id)
      .where('to_state', '=', 'accepted')
      .executeTakeFirstOrThrow();
    const price = BigInt(
      (JSON.parse(planned.detail!) as { planned_max_fee_per_gas: string }).planned_max_fee_per_gas,
    );
    await stack.waitState(topUp!.queue_id, ['sent']);
    const topUpTx = await stack.service.db
      .selectFrom('payout_txs')
      .select('max_priority_fee_per_gas')
      .where('queue_id', '=', topUp!.queue_id)
      .executeTakeFirstOrThrow();
    const tip = BigInt(topUpTx.max_priority_fee_per_gas!);
    // From now on every block's base fee is such that the suggestion (twice it plus the tip) is above the
    // price the top-up paid for, while that price still covers it and the tip.
    const risen = ((price - tip) * 19n) / 20n;
    expect(2n * risen + tip).toBeGreaterThan(price);
    await until(
      async () => {
        await stack.chain.testClient.setNextBlockBaseFeePerGas({ baseFeePerGas: risen });
        await stack.chain.mine(1);
        await new Promise((r) => setTimeout(r, 150));
        return allFinal(wallet).then(async (done) => done && (await treasuryRows(wallet)).length === 2);
      },
      60_000,
      'the sweep confirmed',
    );
    const rows = await treasuryRows(wallet);
    expect(rows.map((r) => [r.kind, r.state])).toEqual([
      ['gas_topup', 'confirmed'],
      ['sweep', 'confirmed'],
    ]);
    const sweepTxs = await stack.service.db
      .selectFrom('payout_txs')
      .select('max_fee_per_gas')
      .where('queue_id', '=', rows[1]!.queue_id)
      .execute();
    // Signed once, below the suggestion, at what the wallet's gas money pays for its gas limit.
    expect(sweepTxs).toHaveLength(1);
    const maxFee = BigInt(sweepTxs[0]!.max_fee_per_gas!);
    expect(maxFee).toBeLessThan(2n * risen + tip);
    expect(maxFee).toBeGreaterThanOrEqual(risen + tip);
    expect(BigInt(rows[1]!.gas_limit!) * maxFee).toBeLessThanOrEqual(BigInt(topUp!.amount_raw));
    expect(await stack.chain.balanceOf(wallet)).toBe(1n);
  });

  it('pays a withdrawal from a wallet during its sweep; the sweep takes only the rest', async () => {
    const wallet = (await issue('carol')).toLowerCase() as Address;
    await stack.chain.setEthBalance(wallet, 10n ** 17n);
    await stack.chain.mint(wallet, 200n * E6);
    await stack.chain.mine(2);
    const withdrawals = stack.collector('withdrawResp');
    const answerOf = (id: string) =>
      withdrawals.messages
        .map((m) => m.json as { queue_id: string; status: number; from_address: string })
        .find((m) => m.queue_id === id);

    // A withdrawal in flight first: the sweep leaves it its 30.
    await stack.withdraw({
      queue_id: 'w-carol-1',
      from_address: wallet,
      to_address: newWallet().address,
      amount: '30',
    });
    await stack.waitState('w-carol-1', ['sent']);
    const first = await sweeper.sweepNow();
    expect(first.stored).toHaveLength(1);
    // A withdrawal while the sweep is in flight: paid (by the collection wallet, the sweep took the rest).
    await stack.withdraw({
      queue_id: 'w-carol-2',
      from_address: wallet,
      to_address: newWallet().address,
      amount: '50',
    });
    await mineUntil(
      stack.chain,
      async () => Boolean(answerOf('w-carol-1') && answerOf('w-carol-2')) && (await allFinal(wallet)),
      'both withdrawals answered, the sweep confirmed',
    );
    expect(answerOf('w-carol-1')).toMatchObject({ status: 1, from_address: wallet });
    expect(answerOf('w-carol-2')).toMatchObject({ status: 1, from_address: collection.address });
    const rows = await treasuryRows(wallet);
    expect(rows.map((r) => [r.kind, r.state, r.amount_raw])).toEqual([['sweep', 'confirmed', '169999999']]);
    expect(await stack.chain.balanceOf(wallet)).toBe(1n);
  });

  it('keeps no key or mnemonic in clear, in the logs or the database', async () => {
    const secrets = [
      mnemonic,
      ...mnemonic
        .split(' ')
        .slice(0, 3)
        .map((_, i, a) => a.slice(0, i + 1).join(' ')),
    ]
      .filter((s) => s.includes(' '))
      .concat(
        [0, 1, 2].map((i) => {
          const key = mnemonicToAccount(mnemonic, { addressIndex: i }).getHdKey().privateKey!;
          return Buffer.from(key).toString('hex');
        }),
      );
    const logs = stack.logs.join('\n').toLowerCase();
    const tables = ['hd_roots', 'issued_addresses', 'payouts', 'payout_txs', 'audit_log', 'wallets'] as const;
    const dump: string[] = [];
    for (const table of tables) {
      dump.push(
        JSON.stringify(await stack.service.db.selectFrom(table).selectAll().execute(), (_, v) =>
          typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('hex') : v,
        ),
      );
    }
    const db = dump.join('\n').toLowerCase();
    for (const secret of secrets) {
      expect(logs.includes(secret.toLowerCase()), 'a secret in the logs').toBe(false);
      expect(db.includes(secret.toLowerCase()), 'a secret in the database').toBe(false);
    }
    // The native coin of the issued wallets is watched, and still no deposit came from a top-up.
    const native = await stack.service.db
      .selectFrom('deposits')
      .select('tx_hash')
      .where('token_address', '=', NATIVE_ADDRESS_LC)
      .execute();
    expect(native).toEqual([]);
  });
});
