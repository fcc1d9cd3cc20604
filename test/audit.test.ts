import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mineUntil, type TestChain } from './helpers/chain.js';
import { runCli } from './helpers/cli.js';
import { dbKinds } from './helpers/db.js';
import { newWallet, queueId } from './helpers/payouts.js';
import { toV2Json, writeJson } from './helpers/process.js';
import { randomAddress, until } from './helpers/service.js';
import { startStack, type TestStack } from './helpers/stack.js';

const CONFIRM = 3;
const USDT = 1_000_000n;
const ETH = 10n ** 18n;

interface JsonEntry {
  subject: string;
  ref: string;
  txHash: string | null;
  from: string | null;
  to: string;
  block: number | null;
  detail: Record<string, unknown> | string | null;
}

describe.each(dbKinds)('the audit trail on %s', (kind) => {
  const dir = mkdtempSync(join(tmpdir(), 'm2p-audit-'));
  const wallet = newWallet();
  const shared = newWallet(); // its key is also used outside the service
  let stack: TestStack;
  let chain: TestChain;
  let service: TestStack['service'];
  let configPath: string;

  const payout = (id: string) => stack.payout(id);
  const audit = (args: string[]) =>
    runCli(['audit', ...args, '--config', configPath], { env: { CONFIG_PATH: '' } });
  const auditJson = async (args: string[]) => {
    const result = await audit([...args, '--json']);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as JsonEntry[];
  };
  beforeAll(async () => {
    stack = await startStack({
      db: kind,
      wallets: [wallet, shared],
      confirmHeight: CONFIRM,
      replaceAfterBlocks: 2,
      async prepareChain(c) {
        await c.setEthBalance(wallet.address, 10n * ETH);
        await c.setEthBalance(shared.address, 10n * ETH);
        await c.mint(shared.address, 100n * USDT);
        await c.mint(wallet.address, 100n * USDT);
        await c.mint(c.accounts[1]!.address, 100n * USDT);
      },
    });
    ({ chain, service } = stack);
    configPath = join(dir, 'config.json');
    writeJson(configPath, toV2Json(stack.config));
  });

  afterAll(async () => {
    await stack?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the history of a payout that was replaced and confirmed, found by its queue_id or either hash', async () => {
    const id = queueId('audit');
    await stack.withdraw({
      queue_id: id,
      from_address: wallet.address,
      to_address: randomAddress(),
      amount: '3',
    });
    const sent = await stack.waitState(id, ['sent']);
    const first = await service.db
      .selectFrom('payout_txs')
      .selectAll()
      .where('tx_hash', '=', sent.tx_hash!)
      .executeTakeFirstOrThrow();
    // Every block's base fee above the first transaction's fee cap: only a replacement can be mined.
    await mineUntil(
      chain,
      async () => {
        if ((await payout(id))?.state === 'mined') return true;
        await chain.testClient.setNextBlockBaseFeePerGas({
          baseFeePerGas: BigInt(first.max_fee_per_gas!) + 1n,
        });
        return false;
      },
      'the replacement mined',
    );
    await mineUntil(chain, async () => (await payout(id))?.state === 'confirmed', 'payout confirmed');
    const final = (await payout(id))!;
    expect(final.tx_hash).not.toBe(first.tx_hash);

    const text = await audit(['--queue-id', id]);
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines.map((l) => l.match(/ (\S+) → (\S+) /)!.slice(1))).toEqual([
      ['(new)', 'accepted'],
      ['accepted', 'signed'],
      ['signed', 'sent'],
      ['sent', 'replaced'],
      ['sent', 'mined'],
      ['mined', 'confirmed'],
    ]);
    for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\S+Z {2}payout \S+ {2}/);
    expect(lines[1]).toContain(`tx ${first.tx_hash}`);
    expect(lines[3]).toContain(`tx ${final.tx_hash}`);
    expect(lines[3]).toContain(`"replaces":"${first.tx_hash}"`);
    expect(lines[5]).toContain(`tx ${final.tx_hash}  block ${final.mined_block}`);

    const entries = await auditJson(['--queue-id', id]);
    expect(entries[1]).toMatchObject({
      to: 'signed',
      txHash: first.tx_hash,
      detail: { sender: wallet.address, nonce: Number(final.nonce) },
    });
    const replaced = entries[3]!.detail as Record<string, string>;
    expect(BigInt(replaced.maxFeePerGas!) * 10n).toBeGreaterThanOrEqual(BigInt(first.max_fee_per_gas!) * 11n);
    expect(entries[4]).toMatchObject({ to: 'mined', txHash: final.tx_hash, block: final.mined_block });
    expect(entries[4]!.detail).toMatchObject({ reverted: false });
    // The replaced hash, never mined, still leads to the payout.
    for (const hash of [first.tx_hash, final.tx_hash!]) {
      expect((await auditJson(['--tx', hash])).map((e) => e.to)).toEqual(entries.map((e) => e.to));
    }
  });

  it('records a mined payout sent again after a reorganisation, and a refused one with its error code', async () => {
    const id = queueId('audit-reorg');
    await stack.withdraw({
      queue_id: id,
      from_address: wallet.address,
      to_address: randomAddress(),
      amount: '1',
    });
    await stack.waitState(id, ['sent']);
    await mineUntil(chain, async () => (await payout(id))?.state === 'mined', 'payout mined');
    const mined = (await payout(id))!;
    await chain.reorg(1); // the payout's block is replaced by an empty one
    await stack.waitState(id, ['sent']);
    await mineUntil(chain, async () => (await payout(id))?.state === 'confirmed', 'payout confirmed');
    const entries = await auditJson(['--queue-id', id]);
    expect(entries.map((e) => [e.from, e.to])).toEqual([
      [null, 'accepted'],
      ['accepted', 'signed'],
      ['signed', 'sent'],
      ['sent', 'mined'],
      ['mined', 'sent'],
      ['sent', 'mined'],
      ['mined', 'confirmed'],
    ]);
    expect(entries[4]).toMatchObject({ block: mined.mined_block, txHash: mined.tx_hash });
    expect(entries[4]!.detail).toMatchObject({ blockHash: mined.mined_block_hash });

    const refused = queueId('audit-refused');
    await stack.withdraw({
      queue_id: refused,
      from_address: wallet.address,
      to_address: '0x1234',
      amount: '1',
    });
    await stack.waitState(refused, ['failed']);
    const [failed] = await auditJson(['--queue-id', refused]);
    expect(failed).toMatchObject({ from: null, to: 'failed', detail: { error: 'invalid_address' } });
  });

  it('records a payout put back to accepted when a transaction that is not ours took its nonce', async () => {
    const id = queueId('audit-foreign');
    await stack.withdraw({
      queue_id: id,
      from_address: shared.address,
      to_address: randomAddress(),
      amount: '2',
    });
    const sent = await stack.waitState(id, ['sent']);
    const first = await service.db
      .selectFrom('payout_txs')
      .selectAll()
      .where('tx_hash', '=', sent.tx_hash!)
      .executeTakeFirstOrThrow();
    const block = await chain.publicClient.getBlock();
    const foreignRaw = await privateKeyToAccount(shared.privateKey).signTransaction({
      chainId: chain.anvil.chainId,
      type: 'eip1559',
      to: shared.address,
      value: 0n,
      gas: 21_000n,
      nonce: Number(sent.nonce),
      maxFeePerGas: BigInt(first.max_fee_per_gas!) * 10n + block.baseFeePerGas! * 4n,
      maxPriorityFeePerGas: BigInt(first.max_fee_per_gas!) * 5n,
    });
    await chain.testClient.dropTransaction({ hash: first.tx_hash as Hex });
    await chain.sendRawTransaction(foreignRaw);
    await mineUntil(chain, async () => (await payout(id))?.state === 'confirmed', 'payout confirmed');
    const entries = await auditJson(['--queue-id', id]);
    const requeued = entries.findIndex((e) => e.to === 'accepted' && e.from === 'sent');
    expect(requeued).toBeGreaterThan(0);
    expect(entries[requeued]).toMatchObject({
      detail: { nonceTakenByOthers: true, nonce: Number(sent.nonce) },
    });
    // The latest hash of the lost nonce: the first one, or a replacement of it.
    const lost = entries.slice(0, requeued).filter((e) => e.to === 'signed' || e.to === 'replaced');
    expect(lost.map((e) => e.txHash)).toContain(entries[requeued]!.txHash);
    expect(entries.slice(requeued + 1).map((e) => e.to)).toEqual(['signed', 'sent', 'mined', 'confirmed']);
    expect(entries[requeued + 1]!.detail).toMatchObject({ nonce: Number(sent.nonce) + 1 });
  });

  it('prints a deposit history by its transaction hash', async () => {
    const to = randomAddress();
    await stack.watch(to);
    const txHash = await chain.transfer(1, to, 7n * USDT);
    const block = Number(await chain.mine(1));
    const deposit = () =>
      service.db.selectFrom('deposits').select('status').where('tx_hash', '=', txHash).executeTakeFirst();
    await mineUntil(chain, async () => (await deposit())?.status === 'confirmed', 'deposit confirmed');

    const text = await audit(['--tx', txHash]);
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(`deposit ${txHash}:0  (new) → pending  tx ${txHash}  block ${block}`);
    expect(lines[1]).toContain(`deposit ${txHash}:0  pending → confirmed  tx ${txHash}  block ${block}`);
    const [pending] = await auditJson(['--tx', txHash.toUpperCase().replace('0X', '0x')]);
    expect(pending!.detail).toMatchObject({ to, amountRaw: (7n * USDT).toString() });
  });

  it('follows a deposit through a reorganisation: orphaned, re-included in a new block, confirmed', async () => {
    const to = randomAddress();
    await stack.watch(to);
    const raw = await chain.signTransfer(1, to, 2n * USDT);
    const txHash = await chain.sendRawTransaction(raw);
    const first = Number(await chain.mine(1));
    const deposit = () =>
      service.db.selectFrom('deposits').select('status').where('tx_hash', '=', txHash).executeTakeFirst();
    await until(async () => (await deposit())?.status === 'pending', 20_000);
    await chain.mine(1);
    await new Promise((r) => setTimeout(r, 300));
    await chain.reorg(2, [[raw, 1]]); // the transfer lands one block later
    await mineUntil(chain, async () => (await deposit())?.status === 'confirmed', 'deposit confirmed');
    const entries = await auditJson(['--tx', txHash]);
    expect(entries.map((e) => [e.from, e.to, e.block])).toEqual([
      [null, 'pending', first],
      ['pending', 'orphaned', first],
      ['orphaned', 'pending', first + 1],
      ['pending', 'confirmed', first + 1],
    ]);
  });

  it('says so, and exits 1, when nothing is known; 2 for a bad call', async () => {
    const none = await audit(['--queue-id', 'never-seen']);
    expect(none).toMatchObject({ code: 1, stdout: '' });
    expect(none.stderr).toContain('no audit history for payout with queue_id never-seen');
    const tx = await audit(['--tx', `0x${'ab'.repeat(32)}`]);
    expect(tx.code).toBe(1);
    expect(tx.stderr).toContain('no audit history for transaction');
    expect((await audit(['--tx', '0x1234'])).code).toBe(2);
    expect((await audit([])).code).toBe(2);
  });
});
