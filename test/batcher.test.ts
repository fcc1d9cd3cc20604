import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Address,
  BaseError,
  ContractFunctionRevertedError,
  encodeFunctionData,
  type Hex,
  keccak256,
  parseAbi,
  parseGwei,
  slice,
  toHex,
} from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowanceCalls, batchTotal, readBatcherAllowance } from '../src/batch/allowance.js';
import { type BatchItem, batcherAbi, batchRef, batchTransferData } from '../src/batch/contract.js';
import { deployBatcher } from '../src/batch/deploy.js';
import { settleBatch } from '../src/batch/outcomes.js';
import { transferTopic, usdtAbi } from '../src/chain/token.js';
import { createTestChain, type TestChain } from './helpers/chain.js';
import { runCli } from './helpers/cli.js';

/** The USDC-like switch of contracts/TestUSDT.sol (not in the service's token ABI: only tests flip it). */
const blacklistSwitchAbi = parseAbi(['function setBlacklistRecipients(bool on)']);

/** A fresh address per label: no balance, no code (so each payment pays for a new balance slot). */
const freshAddress = (label: string) => slice(keccak256(toHex(label)), 12) as Address;

function revertName(error: unknown): string | undefined {
  if (!(error instanceof BaseError)) return undefined;
  const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
  return reverted instanceof ContractFunctionRevertedError
    ? (reverted.reason ?? reverted.data?.errorName)
    : undefined;
}

describe('the batcher on anvil', () => {
  let c: TestChain;
  let owner: Address;
  let batcher: Hex;

  const send = async (from: number, to: Address, data: Hex, gas?: bigint) => {
    const hash = await c.walletClients[from]!.sendTransaction({ to, data, ...(gas ? { gas } : {}) });
    return c.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  };
  /** The owner's approvals for `needed`, as the payout side would send them. */
  const approveFor = async (needed: bigint, target = needed) => {
    const current = await readBatcherAllowance(c.publicClient, c.token, owner, batcher);
    for (const call of allowanceCalls(batcher, current, needed, target)) {
      expect((await send(1, c.token, call.data)).status).toBe('success');
    }
  };
  /** The test token's USDC-like switch: blacklisted recipients refused too. */
  const blacklistRecipients = (on: boolean) =>
    send(
      0,
      c.token,
      encodeFunctionData({ abi: blacklistSwitchAbi, functionName: 'setBlacklistRecipients', args: [on] }),
    );
  const items = (label: string, n: number): BatchItem[] =>
    Array.from({ length: n }, (_, i) => ({
      to: freshAddress(`${label}-${i}`),
      amountRaw: 1_000_000n + BigInt(i),
      ref: batchRef(`${label}-q${i}`),
    }));

  beforeAll(async () => {
    c = await createTestChain({ noMining: false });
    owner = c.accounts[1]!.address;
    await c.deployToken(6);
    await c.mint(owner, 10n ** 15n);
    const block = await c.publicClient.getBlock();
    const deployed = await deployBatcher({
      client: c.publicClient,
      from: owner,
      chainId: c.chain.id,
      fees: {
        type: 'eip1559',
        maxFeePerGas: (block.baseFeePerGas ?? 0n) * 2n + parseGwei('1'),
        maxPriorityFeePerGas: parseGwei('1'),
      },
      signTransaction: (tx) => c.accounts[1]!.account.signTransaction(tx),
      pollingIntervalMs: 50,
    });
    batcher = deployed.address;
    console.log(`batcher deployment: ${deployed.gasUsed} gas`);
  });
  afterAll(async () => {
    await c?.stop();
  });

  it('is owned by the wallet that deployed it', async () => {
    const read = await c.publicClient.readContract({
      address: batcher,
      abi: batcherAbi,
      functionName: 'owner',
    });
    expect(read.toLowerCase()).toBe(owner.toLowerCase());
  });

  it('pays 100 recipients in one transaction; the one the token refuses fails alone, balances exact', async () => {
    const batch = items('blk', 100);
    const refused = batch[37]!;
    await blacklistRecipients(true);
    await c.addBlackList(refused.to);
    const total = batchTotal(batch);
    await approveFor(total);
    const ownerBefore = await c.balanceOf(owner);

    const receipt = await send(1, batcher, batchTransferData(c.token, batch));
    expect(receipt.status).toBe('success');

    const settled = settleBatch(batch, receipt, batcher);
    expect(settled.filter((s) => s.outcome === 'paid')).toHaveLength(99);
    expect(settled.filter((s) => s.outcome !== 'paid')).toEqual([{ ...refused, outcome: 'failed' }]);
    for (const item of batch) {
      expect(await c.balanceOf(item.to)).toBe(item === refused ? 0n : item.amountRaw);
    }
    const paid = total - refused.amountRaw;
    expect(await c.balanceOf(owner)).toBe(ownerBefore - paid);
    // The refused payment drew nothing: its share of the allowance is left.
    expect(await readBatcherAllowance(c.publicClient, c.token, owner, batcher)).toBe(refused.amountRaw);
    // Each payment's Transfer log reads owner -> recipient, as a direct payment's does.
    const ownerTopic = `0x${owner.slice(2).toLowerCase().padStart(64, '0')}`;
    const transfers = receipt.logs.filter(
      (l) => l.address.toLowerCase() === c.token.toLowerCase() && l.topics[0] === transferTopic,
    );
    expect(transfers).toHaveLength(99);
    expect(transfers.every((l) => l.topics[1] === ownerTopic)).toBe(true);
  });

  it('reports batched gas per recipient below a single transfer (100 fresh recipients each way)', async () => {
    const batch = items('gas', 100);
    // The same amounts to other fresh recipients, one transaction each.
    const singles = items('one', 100);
    // Measured as mainnet USDT behaves: the blacklist checks senders only.
    await blacklistRecipients(false);
    await approveFor(batchTotal(batch));
    const batched = await send(1, batcher, batchTransferData(c.token, batch));
    expect(settleBatch(batch, batched, batcher).every((s) => s.outcome === 'paid')).toBe(true);
    let singleGas = 0n;
    for (const item of singles) {
      const hash = await c.transfer(1, item.to, item.amountRaw);
      const receipt = await c.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
      expect(receipt.status).toBe('success');
      singleGas += receipt.gasUsed;
    }
    const perBatched = batched.gasUsed / 100n;
    const perSingle = singleGas / 100n;
    console.log(
      `gas: batch of 100 ${batched.gasUsed} (${perBatched} per recipient); 100 single transfers ${singleGas} (${perSingle} each); saved ${100n - (perBatched * 100n) / perSingle}%`,
    );
    expect(perBatched).toBeLessThan(perSingle);
  });

  it('moves a token whose transferFrom returns nothing, counts one returning false as failed', async () => {
    // TestUSDT answers transferFrom with no data at all, as mainnet USDT does.
    await approveFor(5n);
    const call = await c.publicClient.call({
      account: batcher,
      to: c.token,
      data: encodeFunctionData({
        abi: usdtAbi,
        functionName: 'transferFrom',
        args: [owner, freshAddress('x'), 5n],
      }),
    });
    expect(call.data).toBeUndefined();
    // A "token" whose every call answers the word 0 (false): nothing paid, the batch still succeeds.
    const falseToken = await deployRaw('0x69600060005260206000f3600052600a6016f3');
    const batch = items('false', 3);
    const receipt = await send(1, batcher, batchTransferData(falseToken, batch));
    expect(receipt.status).toBe('success');
    expect(settleBatch(batch, receipt, batcher).map((s) => s.outcome)).toEqual([
      'failed',
      'failed',
      'failed',
    ]);
  });

  it('refuses a caller other than its owner, a token without code, and lists of different lengths', async () => {
    const batch = items('x', 2);
    const simulate = (account: Address, token: Address, args?: Parameters<typeof batchTransferData>[1]) =>
      c.publicClient
        .simulateContract({
          account,
          address: batcher,
          abi: batcherAbi,
          functionName: 'batchTransfer',
          args: [
            token,
            (args ?? batch).map((i) => i.to),
            batch.map((i) => i.amountRaw),
            batch.map((i) => i.ref),
          ],
        })
        .catch((e: unknown) => e);
    expect(revertName(await simulate(c.accounts[2]!.address, c.token))).toBe('NotOwner');
    expect(revertName(await simulate(owner, freshAddress('eoa')))).toBe('NotAContract');
    expect(revertName(await simulate(owner, c.token, batch.slice(0, 1)))).toBe('LengthMismatch');
    // A non-owner's transaction is mined reverted and moves nothing.
    const before = await c.balanceOf(owner);
    await approveFor(batchTotal(batch));
    const receipt = await send(2, batcher, batchTransferData(c.token, batch), 500_000n);
    expect(receipt.status).toBe('reverted');
    expect(await c.balanceOf(owner)).toBe(before);
  });

  it('reverts the whole batch when a payment runs out of gas instead of reading it as refused', async () => {
    // A "token" whose every call hits INVALID, which burns all the gas it was given.
    const burner = await deployRaw('0x60fe60005360016000f3');
    // One payment: without the contract's check the 1/64 of gas left after the burnt call would pay for a
    // TransferFailed event and the batch would succeed, reporting a refusal that never happened.
    const batch = items('burn', 1);
    const receipt = await send(1, batcher, batchTransferData(burner, batch), 2_000_000n);
    expect(receipt.status).toBe('reverted');
    const simulated = await c.publicClient
      .simulateContract({
        account: owner,
        address: batcher,
        abi: batcherAbi,
        functionName: 'batchTransfer',
        args: [burner, batch.map((i) => i.to), batch.map((i) => i.amountRaw), batch.map((i) => i.ref)],
        gas: 2_000_000n,
      })
      .catch((e: unknown) => e);
    expect(revertName(simulated)).toBe('OutOfGas');
  });

  it('has a test token that refuses blacklisted recipients only once switched (USDC), and approvals from non-zero (USDT)', async () => {
    const listed = freshAddress('listed');
    const simulateTransfer = () =>
      c.publicClient
        .simulateContract({
          account: owner,
          address: c.token,
          abi: usdtAbi,
          functionName: 'transfer',
          args: [listed, 1n],
        })
        .catch((e: unknown) => e);
    await c.addBlackList(listed);
    await blacklistRecipients(true);
    expect(revertName(await simulateTransfer())).toBe('TestUSDT: recipient is blacklisted');
    await blacklistRecipients(false);
    expect(await simulateTransfer()).toMatchObject({ result: undefined });
    await blacklistRecipients(true);
    // Mainnet USDT's approve: from a non-zero allowance only to 0.
    await approveFor(10n);
    const direct = await c.publicClient
      .simulateContract({
        account: owner,
        address: c.token,
        abi: usdtAbi,
        functionName: 'approve',
        args: [batcher, 20n],
      })
      .catch((e: unknown) => e);
    expect(revertName(direct)).toBe('TestUSDT: reset the allowance to 0 first');
  });

  /** Deploys raw creation code from account 0; returns the contract's address. */
  async function deployRaw(creation: Hex): Promise<Address> {
    const hash = await c.walletClients[0]!.sendTransaction({ data: creation, to: null });
    const receipt = await c.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    if (!receipt.contractAddress) throw new Error('raw deployment has no contract address');
    return receipt.contractAddress;
  }
});

describe('m2pool-payment contracts deploy-batcher', () => {
  const dir = mkdtempSync(join(tmpdir(), 'm2p-batcher-cli-'));
  const env = { PAYMENT_MASTER_KEY: randomBytes(32).toString('hex'), CONFIG_PATH: '' };
  let c: TestChain;
  let config: string;
  let collection: TestChain['accounts'][number];

  beforeAll(async () => {
    c = await createTestChain({ noMining: false });
    collection = c.accounts[3]!;
    await c.deployToken(6);
    const queue = (name: string) => ({ queue: name, exchange: 'b.exchange', routing: [`${name}.key`] });
    config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        rmq_config: {
          sub_addr: 'amqp://guest:guest@127.0.0.1:5672',
          ...Object.fromEntries(
            ['pay', 'topup', 'withdraw', 'pay_resp', 'topup_resp', 'withdraw_resp'].map((k) => [
              k,
              queue(`b.${k}`),
            ]),
          ),
        },
        eth_config: {
          rpcUrl: c.anvil.rpcUrl,
          wsUrl: c.anvil.wsUrl,
          chainId: c.anvil.chainId,
          dbConfig: { driver: 'sqlite', file: join(dir, 'payment.sqlite') },
          tokens: { USDT: { address: c.token, decimals: 6 } },
          collectionAddress: collection.address,
        },
      }),
    );
  });
  afterAll(async () => {
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses an unknown chain, and a collection wallet whose key the vault lacks', async () => {
    const unknown = await runCli(['contracts', 'deploy-batcher', '--chain', 'BSC', '--config', config], {
      env,
    });
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toContain('error: no chain BSC in the config (ETH)');
    const keyless = await runCli(['contracts', 'deploy-batcher', '--chain', 'eth', '--config', config], {
      env,
    });
    expect(keyless).toMatchObject({ code: 2, stdout: '' });
    expect(keyless.stderr).toContain(
      `error: the vault holds no key for ETH's collection wallet ${collection.address.toLowerCase()}`,
    );
  });

  it("deploys from the collection wallet's key in the vault and prints the address, owned by that wallet", async () => {
    const imported = await runCli(['wallet', 'import', '--config', config], {
      env,
      stdin: collection.privateKey,
    });
    expect(imported.code).toBe(0);
    const nonceBefore = await c.publicClient.getTransactionCount({ address: collection.address });
    const result = await runCli(['contracts', 'deploy-batcher', '--chain', 'ETH', '--config', config], {
      env,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^0x[0-9a-f]{40}\n$/);
    const address = result.stdout.trim() as Address;
    const owner = await c.publicClient.readContract({ address, abi: batcherAbi, functionName: 'owner' });
    expect(owner.toLowerCase()).toBe(collection.address.toLowerCase());
    // Sent by the collection wallet itself: its first transaction made the contract.
    expect(await c.publicClient.getTransactionCount({ address: collection.address })).toBe(nonceBefore + 1);
    // No key in any output.
    expect(result.stdout + result.stderr + imported.stdout + imported.stderr).not.toContain(
      collection.privateKey.slice(2),
    );
  });
});
