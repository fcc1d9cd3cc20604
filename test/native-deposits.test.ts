import type { Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NATIVE_ADDRESS_LC } from '../src/config/chains.js';
import { parseJsonLossless } from '../src/protocol/json.js';
import { verifySignature } from '../src/protocol/sign.js';
import { createTestChain, type TestChain } from './helpers/chain.js';
import { type DbKind, dbKinds } from './helpers/db.js';
import { startFaultRpc } from './helpers/fault-rpc.js';
import type { ReceivedMessage } from './helpers/rabbit.js';
import { randomAddress, TEST_SIGN_KEY, until } from './helpers/service.js';
import { type StartStackOptions, startStack } from './helpers/stack.js';

const CONFIRM = 3;
const ETH = 10n ** 18n;
const USDT = 1_000_000n;
/** Dev accounts: one pays tokens, the other the native coin. */
const TOKEN_SENDER = 1;
const NATIVE_SENDER = 2;

interface TopupMsg {
  address: string;
  status: number;
  symbol: string;
  amount: unknown;
  tx_hash: string;
  log_index?: number;
  block_height: number;
  from_address: string;
}

/** A stack collecting topup responses, with the native coin's helpers. */
async function startNativeStack(options: StartStackOptions) {
  const stack = await startStack({ ...options, confirmHeight: CONFIRM, collect: ['topupResp'] });
  const responses = stack.collector('topupResp');
  const messagesFor = (address: string): TopupMsg[] =>
    responses.messages.map((m) => m.json as TopupMsg).filter((m) => m.address === address.toLowerCase());
  return Object.assign(stack, {
    responses,
    messagesFor,
    /** A signed topup naming `symbol` (ETH: the native coin), once the service watches it. */
    waitStatus(address: string, status: number, count = 1) {
      return until(
        () => {
          const found = messagesFor(address).filter((m) => m.status === status);
          return found.length >= count ? found : undefined;
        },
        20_000,
        `${count} status ${status} for ${address}`,
      );
    },
    depositRows(txHash: string) {
      return stack.service.db.selectFrom('deposits').selectAll().where('tx_hash', '=', txHash).execute();
    },
  });
}

type NativeStack = Awaited<ReturnType<typeof startNativeStack>>;

function rawOf(messages: ReceivedMessage[], txHash: string, status: number, symbol = 'ETH') {
  return messages.find((m) => {
    const j = m.json as TopupMsg;
    return j.tx_hash === txHash && j.status === status && j.symbol === symbol;
  });
}

/** Sends `wei` of the chain's coin from a dev account; NOT mined. */
function sendNative(chain: TestChain, to: Hex, wei: bigint, options: { gas?: bigint } = {}): Promise<Hex> {
  return chain.walletClients[NATIVE_SENDER]!.sendTransaction({ to, value: wei, ...options });
}

/** A signed native transfer (for anvil_reorg, which takes raw transactions), not sent. */
async function signNative(chain: TestChain, to: Hex, wei: bigint): Promise<Hex> {
  const { account, address } = chain.accounts[NATIVE_SENDER]!;
  const block = await chain.publicClient.getBlock({ blockTag: 'latest' });
  const nonce = await chain.publicClient.getTransactionCount({ address, blockTag: 'pending' });
  return account.signTransaction({
    chainId: chain.chain.id,
    type: 'eip1559',
    to,
    value: wei,
    gas: 21_000n,
    nonce,
    maxPriorityFeePerGas: 10n ** 9n,
    maxFeePerGas: (block.baseFeePerGas ?? 10n ** 9n) * 2n + 10n ** 9n,
  });
}

describe.each(dbKinds)('native-coin deposits on %s', (kind) => {
  let chain: TestChain;
  let stack: NativeStack;

  beforeAll(async () => {
    stack = await startNativeStack({
      db: kind,
      prepareChain: (c) => c.mint(c.accounts[TOKEN_SENDER]!.address, 1_000_000n * USDT),
    });
    chain = stack.chain;
  });

  afterAll(async () => {
    await stack?.teardown();
  });

  it('reports a native transfer at once (status 2, no log_index) and once final (status 1), to the last wei', async () => {
    const to = randomAddress();
    await stack.watch(to, { symbol: 'ETH' });
    const wei = ETH + 1n; // 1.000000000000000001: no float could carry it
    const txHash = await sendNative(chain, to, wei);
    const block = Number(await chain.mine(1));

    const [pending] = await stack.waitStatus(to, 2);
    expect(pending).toMatchObject({
      status: 2,
      chain: 'ETH',
      symbol: 'ETH',
      tx_hash: txHash,
      block_height: block,
      from_address: chain.accounts[NATIVE_SENDER]!.address.toLowerCase(),
    });
    expect(pending).not.toHaveProperty('log_index');
    const raw2 = rawOf(stack.responses.messages, txHash, 2)!;
    expect(raw2.text).toContain('"amount":1.000000000000000001,');
    expect(raw2.text).not.toContain('log_index');
    expect(verifySignature(parseJsonLossless(raw2.text) as Record<string, unknown>, TEST_SIGN_KEY)).toBe(
      true,
    );

    await chain.mine(CONFIRM - 2);
    await stack.settled();
    expect(stack.messagesFor(to).filter((m) => m.status === 1)).toHaveLength(0);
    await chain.mine(1);
    const [confirmed] = await stack.waitStatus(to, 1);
    expect(confirmed).toMatchObject({ status: 1, symbol: 'ETH', tx_hash: txHash, block_height: block });
    expect(confirmed).not.toHaveProperty('log_index');
    expect(rawOf(stack.responses.messages, txHash, 1)!.text).toContain('"amount":1.000000000000000001,');

    await chain.mine(2);
    await stack.settled();
    expect(stack.messagesFor(to)).toHaveLength(2);
    expect(await stack.depositRows(txHash)).toEqual([
      expect.objectContaining({
        status: 'confirmed',
        symbol: 'ETH',
        token_address: NATIVE_ADDRESS_LC,
        amount_raw: wei.toString(),
        to_address: to,
        tx_log_ordinal: -1,
        log_index: -1,
        block_number: block,
      }),
    ]);
  });

  it('ignores a transfer of value 0, a reverted one and one to an unwatched address', async () => {
    const to = randomAddress();
    const unwatched = randomAddress();
    // A contract without a payable function: value sent to it reverts. Watched for the native coin here.
    const refuses = chain.token.toLowerCase() as Hex;
    await stack.watch(to, { symbol: 'ETH' });
    await stack.watch(refuses, { symbol: 'ETH' });
    const zero = await sendNative(chain, to, 0n);
    const reverted = await sendNative(chain, refuses, 5n * ETH, { gas: 100_000n });
    await sendNative(chain, unwatched, ETH);
    const block = Number(await chain.mine(1));
    const receipt = await chain.publicClient.getTransactionReceipt({ hash: reverted });
    expect(receipt.status).toBe('reverted');
    expect(Number(receipt.blockNumber)).toBe(block);
    expect((await chain.publicClient.getTransactionReceipt({ hash: zero })).blockNumber).toBe(BigInt(block));

    // A later deposit to the same address is reported: the block before it was processed, and left alone.
    const later = await sendNative(chain, to, 3n);
    await chain.mine(1);
    const [seen] = await stack.waitStatus(to, 2);
    expect(seen!.tx_hash).toBe(later);
    await chain.mine(CONFIRM);
    await stack.waitStatus(to, 1);
    await stack.settled();
    expect(stack.messagesFor(to).map((m) => [m.tx_hash, m.status])).toEqual([
      [later, 2],
      [later, 1],
    ]);
    expect(stack.messagesFor(refuses)).toHaveLength(0);
    expect(stack.messagesFor(unwatched)).toHaveLength(0);
    expect(await stack.depositRows(zero)).toHaveLength(0);
    expect(await stack.depositRows(reverted)).toHaveLength(0);
  });

  it('reports a token transfer and a native transfer to one address in one block, each once', async () => {
    const to = randomAddress();
    await stack.watch(to);
    await stack.watch(to, { symbol: 'ETH' });
    const tokenTx = await chain.transfer(TOKEN_SENDER, to, 7_500_000n);
    const nativeTx = await sendNative(chain, to, 2n * ETH);
    const block = Number(await chain.mine(1));

    const pending = await stack.waitStatus(to, 2, 2);
    const bySymbol = new Map(pending.map((m) => [m.symbol, m]));
    expect(bySymbol.get('USDT')).toMatchObject({ tx_hash: tokenTx, block_height: block });
    expect(bySymbol.get('USDT')!.log_index).toEqual(expect.any(Number));
    expect(bySymbol.get('ETH')).toMatchObject({ tx_hash: nativeTx, block_height: block });
    expect(bySymbol.get('ETH')).not.toHaveProperty('log_index');
    expect(rawOf(stack.responses.messages, tokenTx, 2, 'USDT')!.text).toContain('"amount":7.5,');
    expect(rawOf(stack.responses.messages, nativeTx, 2)!.text).toContain('"amount":2,');

    await chain.mine(CONFIRM);
    await stack.waitStatus(to, 1, 2);
    await chain.mine(1);
    await stack.settled();
    expect(
      stack
        .messagesFor(to)
        .map((m) => `${m.symbol}:${m.status}`)
        .sort(),
    ).toEqual(['ETH:1', 'ETH:2', 'USDT:1', 'USDT:2'].sort());
  });

  it('answers status 0 when a reorganisation removes a native deposit for good', async () => {
    const to = randomAddress();
    await stack.watch(to, { symbol: 'ETH' });
    const txHash = await sendNative(chain, to, ETH / 2n);
    await chain.mine(1);
    await stack.waitStatus(to, 2);

    await chain.reorg(1); // the block is replaced by one without the transfer; anvil drops it
    await chain.mine(CONFIRM);
    const [failed] = await stack.waitStatus(to, 0);
    expect(failed).toMatchObject({ status: 0, symbol: 'ETH', tx_hash: txHash });
    expect(failed).not.toHaveProperty('log_index');
    await chain.mine(2);
    await stack.settled();
    expect(stack.messagesFor(to).map((m) => m.status)).toEqual([2, 0]);
    expect((await stack.depositRows(txHash)).map((r) => r.status)).toEqual(['failed']);
  });

  it('follows a native deposit that a reorganisation moves to another block, with no second status 2', async () => {
    const to = randomAddress();
    await stack.watch(to, { symbol: 'ETH' });
    const raw = await signNative(chain, to, 3n * ETH);
    const txHash = await chain.sendRawTransaction(raw);
    const first = Number(await chain.mine(1));
    await stack.waitStatus(to, 2);
    await chain.mine(1);
    await stack.settled();

    await chain.reorg(2, [[raw, 1]]); // the transfer lands in the second new block
    const receipt = await chain.publicClient.getTransactionReceipt({ hash: txHash });
    const moved = Number(receipt.blockNumber);
    expect(moved).toBe(first + 1);
    await chain.mine(CONFIRM);
    const [confirmed] = await stack.waitStatus(to, 1);
    expect(confirmed).toMatchObject({ tx_hash: txHash, block_height: moved });
    await chain.mine(CONFIRM);
    await stack.settled();
    expect(stack.messagesFor(to).map((m) => m.status)).toEqual([2, 1]);
    expect(await stack.depositRows(txHash)).toEqual([
      expect.objectContaining({
        status: 'confirmed',
        block_number: moved,
        block_hash: receipt.blockHash.toLowerCase(),
      }),
    ]);
  });

  it('finds the native deposits made while the service was stopped, by range and block by block', async () => {
    const to = randomAddress();
    await stack.watch(to, { symbol: 'ETH' });
    await stack.settled();
    await stack.service.stop();
    const hashes: Hex[] = [];
    hashes.push(await sendNative(chain, to, 1n));
    await chain.mine(1);
    hashes.push(await sendNative(chain, to, 2n));
    await chain.mine(20); // beyond confirmHeight: taken by the range backfill
    hashes.push(await sendNative(chain, to, 3n));
    await chain.mine(1); // recent: taken block by block
    await stack.restart();

    await stack.waitStatus(to, 2, 3);
    await stack.waitStatus(to, 1, 2);
    await chain.mine(CONFIRM);
    await stack.waitStatus(to, 1, 3);
    await stack.settled();
    const seen = stack.messagesFor(to).map((m) => `${m.tx_hash}:${m.status}`);
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
    const order = (h: Hex, s: number) => seen.indexOf(`${h}:${s}`);
    for (const h of hashes) expect(order(h, 2)).toBeLessThan(order(h, 1));
    expect(order(hashes[0]!, 2)).toBeLessThan(order(hashes[1]!, 2));
    expect(order(hashes[1]!, 2)).toBeLessThan(order(hashes[2]!, 2));
    expect(stack.logs.join('')).toMatch(/backfill started/);
  });
});

describe.each(dbKinds)('native-coin deposits behind a lagging provider, on %s', (kind: DbKind) => {
  // Only the block's transactions, or only its receipts, come from a backend 3 blocks behind; headers and
  // logs are up to date. Either missing is "not yet", never "no deposit".
  it.each([
    ['block', 'eth_getBlockByHash'],
    ['receipt', 'eth_getTransactionReceipt'],
  ])(
    'does not take a missing %s for "no deposit": the deposit is reported once it is there',
    async (_what, method) => {
      const chain = await createTestChain({ noMining: true });
      const faults = await startFaultRpc(
        { httpUrl: chain.anvil.rpcUrl, wsUrl: chain.anvil.wsUrl },
        { seed: 11, rates: {}, lagBlocks: 3, methods: [method] },
      );
      let stack: NativeStack | undefined;
      try {
        await chain.deployToken();
        stack = await startNativeStack({
          db: kind,
          chain: { ...chain, anvil: { ...chain.anvil, rpcUrl: faults.httpUrl, wsUrl: faults.wsUrl } },
        });
        const to = randomAddress();
        await stack.watch(to, { symbol: 'ETH' });
        faults.setRates({ lag: 1 });
        const txHash = await sendNative(chain, to, ETH);
        const block = Number(await chain.mine(1));
        // The watcher holds at the block before the deposit's while the backend lacks it.
        await until(
          () => (stack!.service.watcher.status().tip ?? 0) >= block - 1,
          20_000,
          'the block before',
        );
        await new Promise((r) => setTimeout(r, 500));
        expect(stack.service.watcher.status().tip).toBe(block - 1);
        expect(stack.messagesFor(to)).toHaveLength(0);

        // Once the lagging backend has the block, the deposit is found.
        for (let i = 0; i < CONFIRM; i++) {
          await chain.mine(1);
          await new Promise((r) => setTimeout(r, 200));
        }
        const [pending] = await stack.waitStatus(to, 2);
        expect(pending).toMatchObject({ tx_hash: txHash, block_height: block });
        expect(faults.counts().lag).toBeGreaterThan(0);
        await chain.mine(CONFIRM);
        await stack.waitStatus(to, 1);
      } finally {
        await stack?.teardown();
        await faults.close();
        await chain.stop();
      }
    },
  );
});
