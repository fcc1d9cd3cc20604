import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Address,
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  decodeEventLog,
  encodeFunctionData,
  erc20Abi,
  webSocket,
} from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WsClient from 'ws';
import { startAnvil } from '../src/chain/anvil.js';
import { testTokenArtifact, testUsdtAbi, transferEvent, transferTopic, usdtAbi } from '../src/chain/token.js';
import { createTestChain, type TestChain } from './helpers/chain.js';
import { startFaultRpc } from './helpers/fault-rpc.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function revertReason(error: unknown): string | undefined {
  if (!(error instanceof BaseError)) return undefined;
  const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
  return reverted instanceof ContractFunctionRevertedError ? reverted.reason : undefined;
}

describe('TestUSDT on anvil', () => {
  let c: TestChain;
  let alice: Address;
  let bob: Address;
  let carol: Address;

  beforeAll(async () => {
    c = await createTestChain({ noMining: true });
    [alice, bob, carol] = [c.accounts[1]!.address, c.accounts[2]!.address, c.accounts[3]!.address];
    await c.deployToken();
    await c.mint(alice, 1_000_000_000n);
  });
  afterAll(async () => {
    await c?.stop();
  });

  it('looks like mainnet USDT', async () => {
    const read = <F extends 'name' | 'symbol' | 'decimals' | 'totalSupply'>(functionName: F) =>
      c.publicClient.readContract({ address: c.token, abi: usdtAbi, functionName });
    expect(await read('name')).toBe('Tether USD');
    expect(await read('symbol')).toBe('USDT');
    expect(await read('decimals')).toBe(6);
    expect(await read('totalSupply')).toBe(1_000_000_000n);
    expect(testTokenArtifact().bytecode.startsWith('0x60')).toBe(true);
  });

  it('returns no data from transfer: the no-output ABI simulates, erc20Abi does not', async () => {
    const data = encodeFunctionData({ abi: usdtAbi, functionName: 'transfer', args: [bob, 1n] });
    const call = await c.publicClient.call({ account: alice, to: c.token, data });
    expect(call.data).toBeUndefined();

    const sim = await c.publicClient.simulateContract({
      account: alice,
      address: c.token,
      abi: usdtAbi,
      functionName: 'transfer',
      args: [bob, 1n],
    });
    expect(sim.result).toBeUndefined();

    await expect(
      c.publicClient.simulateContract({
        account: alice,
        address: c.token,
        abi: erc20Abi,
        functionName: 'transfer',
        args: [bob, 1n],
      }),
    ).rejects.toThrow();
  });

  it('moves balances and emits a Transfer log', async () => {
    const hash = await c.transfer(1, bob, 250n);
    // Sent, not mined: --no-mining holds it in the pool.
    expect(await c.balanceOf(bob)).toBe(0n);
    await c.mine();
    const receipt = await c.publicClient.getTransactionReceipt({ hash });
    expect(receipt.status).toBe('success');
    expect(await c.balanceOf(bob)).toBe(250n);

    const logs = await c.publicClient.getLogs({
      address: c.token,
      event: transferEvent,
      blockHash: receipt.blockHash,
    });
    expect(logs).toHaveLength(1);
    expect(logs[0]!.args).toEqual({ from: alice, to: bob, value: 250n });
    expect(logs[0]!.topics[0]).toBe(transferTopic);
  });

  it('takes several transfers from one sender into one block', async () => {
    const hashes = await Promise.all([
      c.transfer(1, carol, 1n),
      c.transfer(1, carol, 2n),
      c.transfer(1, carol, 3n),
    ]);
    await c.mine();
    const receipts = await Promise.all(hashes.map((hash) => c.publicClient.getTransactionReceipt({ hash })));
    expect(new Set(receipts.map((r) => r.blockNumber)).size).toBe(1);
    expect(receipts.every((r) => r.status === 'success')).toBe(true);
    expect(await c.balanceOf(carol)).toBe(6n);
  });

  it('emits one Transfer per recipient from multiTransfer, in one transaction', async () => {
    const hash = await c.multiTransfer(1, [
      { to: bob, raw: 10n },
      { to: carol, raw: 20n },
    ]);
    await c.mine();
    const receipt = await c.publicClient.getTransactionReceipt({ hash });
    const transfers = receipt.logs
      .filter((log) => log.topics[0] === transferTopic)
      .map((log) => ({
        logIndex: log.logIndex,
        ...decodeEventLog({ abi: usdtAbi, eventName: 'Transfer', data: log.data, topics: log.topics }).args,
      }));
    expect(transfers).toHaveLength(2);
    expect(transfers.map(({ from, to, value }) => ({ from, to, value }))).toEqual([
      { from: alice, to: bob, value: 10n },
      { from: alice, to: carol, value: 20n },
    ]);
    expect(transfers[0]!.logIndex).not.toBe(transfers[1]!.logIndex);
  });

  it('reverts transfers while paused', async () => {
    await c.pause();
    try {
      const error = await c.publicClient
        .simulateContract({
          account: alice,
          address: c.token,
          abi: usdtAbi,
          functionName: 'transfer',
          args: [bob, 1n],
        })
        .catch((e: unknown) => e);
      expect(revertReason(error)).toBe('TestUSDT: token is paused');
    } finally {
      await c.unpause();
    }
    // A paused token's transfer also fails on chain, not only in simulation.
    await c.pause();
    const hash = await c.transfer(1, bob, 1n);
    await c.mine();
    expect((await c.publicClient.getTransactionReceipt({ hash })).status).toBe('reverted');
    await c.unpause();
  });

  it('reverts a blacklisted sender, and only the sender', async () => {
    await c.addBlackList(alice);
    const sim = (from: Address, to: Address) =>
      c.publicClient
        .simulateContract({
          account: from,
          address: c.token,
          abi: usdtAbi,
          functionName: 'transfer',
          args: [to, 1n],
        })
        .catch((e: unknown) => e);
    expect(revertReason(await sim(alice, bob))).toBe('TestUSDT: sender is blacklisted');
    // Bob may still pay a blacklisted address: USDT only checks the sender.
    expect(revertReason(await sim(bob, alice))).toBeUndefined();
    const blacklisted = await c.publicClient.readContract({
      address: c.token,
      abi: testUsdtAbi,
      functionName: 'isBlackListed',
      args: [alice],
    });
    expect(blacklisted).toBe(true);
    await c.removeBlackList(alice);
    expect(revertReason(await sim(alice, bob))).toBeUndefined();
  });

  it('keeps mint, pause and the blacklist to the owner', async () => {
    const error = await c.publicClient
      .simulateContract({
        account: bob,
        address: c.token,
        abi: testUsdtAbi,
        functionName: 'mint',
        args: [bob, 1n],
      })
      .catch((e: unknown) => e);
    expect(revertReason(error)).toBe('TestUSDT: caller is not the owner');
  });

  it('spends an allowance with transferFrom and rejects more than allowed', async () => {
    const approve = await c.walletClients[1]!.writeContract({
      address: c.token,
      abi: usdtAbi,
      functionName: 'approve',
      args: [bob, 100n],
    });
    await c.mine();
    expect((await c.publicClient.getTransactionReceipt({ hash: approve })).status).toBe('success');
    const pull = (value: bigint) =>
      c.publicClient
        .simulateContract({
          account: bob,
          address: c.token,
          abi: usdtAbi,
          functionName: 'transferFrom',
          args: [alice, carol, value],
        })
        .catch((e: unknown) => e);
    expect(revertReason(await pull(101n))).toBe('TestUSDT: insufficient allowance');
    expect(await pull(100n)).toMatchObject({ result: undefined });
  });
});

describe('reorganisations on anvil', () => {
  let c: TestChain;
  let alice: Address;
  let bob: Address;

  beforeAll(async () => {
    c = await createTestChain({ noMining: true });
    [alice, bob] = [c.accounts[1]!.address, c.accounts[2]!.address];
    await c.deployToken();
    await c.mint(alice, 1_000n);
  });
  afterAll(async () => {
    await c?.stop();
  });

  it('anvil_reorg re-includes a raw transaction in another block', async () => {
    const raw = await c.signTransfer(1, bob, 10n);
    const hash = await c.sendRawTransaction(raw);
    await c.mine();
    const before = await c.publicClient.getTransactionReceipt({ hash });
    const head = await c.mine(2);
    expect(head).toBe(before.blockNumber + 2n);

    // Replace the last 3 blocks (the transfer's and 2 more); the transfer goes in new block index 1.
    await c.reorg(3, [[raw, 1]]);
    expect(await c.blockNumber()).toBe(head);
    const after = await c.publicClient.getTransactionReceipt({ hash });
    expect(after.blockNumber).toBe(before.blockNumber + 1n);
    expect(after.blockHash).not.toBe(before.blockHash);
    const replaced = await c.publicClient.getBlock({ blockNumber: before.blockNumber });
    expect(replaced.hash).not.toBe(before.blockHash);
    expect(replaced.transactions).toHaveLength(0);
    const logs = await c.publicClient.getLogs({
      address: c.token,
      event: transferEvent,
      blockHash: after.blockHash,
    });
    expect(logs.map((log) => log.transactionHash)).toEqual([hash]);
    expect(await c.balanceOf(bob)).toBe(10n);
  });

  it('anvil_reorg without the transaction drops it, and it can be sent again', async () => {
    const raw = await c.signTransfer(1, bob, 5n);
    const hash = await c.sendRawTransaction(raw);
    await c.mine();
    const balance = await c.balanceOf(bob);
    await c.reorg(1);
    await expect(c.publicClient.getTransactionReceipt({ hash })).rejects.toThrow();
    expect(await c.balanceOf(bob)).toBe(balance - 5n);
    // Not put back in the pool: mining again does not bring it back.
    await c.mine();
    await expect(c.publicClient.getTransactionReceipt({ hash })).rejects.toThrow();
    expect(await c.sendRawTransaction(raw)).toBe(hash);
    await c.mine();
    expect((await c.publicClient.getTransactionReceipt({ hash })).status).toBe('success');
  });

  it('anvil_rollback removes blocks', async () => {
    const head = await c.mine(3);
    await c.rollback(2);
    expect(await c.blockNumber()).toBe(head - 2n);
  });

  it('keeps the state dirs that rollback/reorg create out of ~/.foundry, and removes them on stop', async () => {
    const homeStateDirs = () => {
      const dir = join(homedir(), '.foundry', 'anvil', 'tmp');
      return existsSync(dir) ? readdirSync(dir).length : 0;
    };
    const before = homeStateDirs();
    const own = await createTestChain({ noMining: true });
    await own.mine(2);
    await own.rollback(1);
    await own.reorg(1);
    expect(readdirSync(own.anvil.cachePath).length).toBeGreaterThan(0);
    await own.stop();
    expect(existsSync(own.anvil.cachePath)).toBe(false);
    expect(homeStateDirs()).toBe(before);
  });
});

describe('startAnvil', () => {
  it('answers over HTTP and WebSocket, and stop() leaves no process', async () => {
    const anvil = await startAnvil({ chainId: 4242, blockTime: 1 });
    expect(anvil.chainId).toBe(4242);
    expect(isAlive(anvil.pid)).toBe(true);
    const ws = createPublicClient({ transport: webSocket(anvil.wsUrl) });
    expect(await ws.getChainId()).toBe(4242);
    await ws.transport.getRpcClient().then((rpc) => rpc.close());
    await anvil.stop();
    expect(isAlive(anvil.pid)).toBe(false);
    await anvil.stop();
  });

  it('starts several at once on distinct ports', async () => {
    const all = await Promise.all([startAnvil(), startAnvil(), startAnvil()]);
    try {
      expect(new Set(all.map((a) => a.port)).size).toBe(3);
    } finally {
      await Promise.all(all.map((a) => a.stop()));
    }
  });

  it('keeps a devnet across restarts with statePath', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'anvil-state-'));
    const statePath = join(dir, 'state.json');
    try {
      const first = await startAnvil({ statePath, noMining: true });
      const rpc = (url: string, method: string, params: unknown[] = []) =>
        fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
        }).then(async (r) => ((await r.json()) as { result: unknown }).result);
      await rpc(first.rpcUrl, 'anvil_mine', [7]);
      await first.stop();
      const second = await startAnvil({ statePath, noMining: true });
      try {
        expect(await rpc(second.rpcUrl, 'eth_blockNumber')).toBe('0x7');
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['exits without stopping it', 'process.exit(0)'],
    ['is killed with SIGKILL', 'setInterval(() => {}, 1000)'],
  ])('takes anvil down when its parent %s', async (_name, then) => {
    const anvilModule = fileURLToPath(new URL('../src/chain/anvil.ts', import.meta.url));
    const code = `import { startAnvil } from ${JSON.stringify(anvilModule)};
      const a = await startAnvil();
      console.log(JSON.stringify({ pid: a.pid, cachePath: a.cachePath }));
      ${then};`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const { pid, cachePath } = await new Promise<{ pid: number; cachePath: string }>((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString())));
      child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    expect(isAlive(pid)).toBe(true);
    const childGone = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(undefined);
      else child.once('exit', resolve);
    });
    // Killed only in the SIGKILL case: a kill could otherwise land while the exit handler runs.
    if (!then.startsWith('process.exit')) child.kill('SIGKILL');
    await childGone;
    await waitUntil(() => !isAlive(pid));
    // A SIGKILLed parent cannot remove anvil's cache dir; only the exit path can.
    if (then.startsWith('process.exit')) expect(existsSync(cachePath)).toBe(false);
    rmSync(cachePath, { recursive: true, force: true });
  });
});

describe('tcp proxy', () => {
  let echo: Server;
  let echoPort: number;

  beforeAll(async () => {
    echo = createServer((socket) => {
      socket.on('error', () => {});
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoPort = (echo.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => echo.close(resolve));
  });

  const open = (port: number) =>
    new Promise<Socket>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(socket));
      socket.once('error', reject);
    });
  const roundTrip = (socket: Socket, text: string) =>
    new Promise<string>((resolve, reject) => {
      socket.once('data', (data) => resolve(data.toString()));
      socket.once('error', reject);
      socket.write(text);
    });
  const ended = (socket: Socket) =>
    new Promise<void>((resolve) => {
      if (socket.destroyed) resolve();
      socket.on('error', () => {});
      socket.once('close', () => resolve());
    });

  it('forwards, cuts (reset) and restores', async () => {
    const proxy = await startTcpProxy('127.0.0.1', echoPort);
    try {
      const socket = await open(proxy.port);
      expect(await roundTrip(socket, 'hello')).toBe('hello');
      expect(proxy.connections).toBe(1);

      const gone = ended(socket);
      proxy.cut();
      await gone;
      expect(proxy.isCut).toBe(true);

      // New connections fail at once while cut.
      const started = Date.now();
      const refused = await open(proxy.port).then(
        async (s) => {
          await ended(s);
          return s.bytesRead;
        },
        () => 0,
      );
      expect(refused).toBe(0);
      expect(Date.now() - started).toBeLessThan(1000);

      proxy.restore();
      const again = await open(proxy.port);
      expect(await roundTrip(again, 'back')).toBe('back');
      again.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('blackholes without closing, then resets on restore', async () => {
    const proxy = await startTcpProxy('127.0.0.1', echoPort);
    try {
      const socket = await open(proxy.port);
      expect(await roundTrip(socket, 'a')).toBe('a');
      proxy.cut('blackhole');
      let received = '';
      socket.on('data', (data) => {
        received += data.toString();
      });
      socket.write('lost');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(received).toBe('');
      expect(socket.destroyed).toBe(false);

      const gone = ended(socket);
      proxy.restore();
      await gone;
      const again = await open(proxy.port);
      expect(await roundTrip(again, 'b')).toBe('b');
      again.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('cuts a JSON-RPC client off anvil and lets it back', async () => {
    const anvil = await startAnvil({ noMining: true });
    const proxy = await startTcpProxy('127.0.0.1', anvil.port);
    try {
      const chainId = () =>
        fetch(`http://${proxy.address}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
          signal: AbortSignal.timeout(2000),
        }).then(async (r) => ((await r.json()) as { result: string }).result);
      expect(await chainId()).toBe('0x7a69');
      proxy.cut();
      await expect(chainId()).rejects.toThrow();
      proxy.restore();
      expect(await chainId()).toBe('0x7a69');
    } finally {
      await proxy.close();
      await anvil.stop();
    }
  });
});

describe('fault rpc proxy', () => {
  let chain: TestChain;
  beforeAll(async () => {
    chain = await createTestChain({ noMining: true });
    await chain.deployToken();
    await chain.mint(chain.accounts[1]!.address, 1_000_000n);
  });
  afterAll(async () => {
    await chain?.stop();
  });

  const target = () => ({ httpUrl: chain.anvil.rpcUrl, wsUrl: chain.anvil.wsUrl });
  interface Answer {
    id: number;
    result?: unknown;
    error?: { message: string };
  }
  const post = (url: string, body: unknown) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
  const rpc = async (url: string, method: string, params: unknown[] = []): Promise<Answer> =>
    (await (await post(url, { jsonrpc: '2.0', id: 1, method, params })).json()) as Answer;

  it('is transparent with no faults, for single calls, batches and the WebSocket', async () => {
    const proxy = await startFaultRpc(target(), { seed: 1 });
    try {
      const head = await chain.blockNumber();
      expect((await rpc(proxy.httpUrl, 'eth_blockNumber')).result).toBe(`0x${head.toString(16)}`);
      const batch = (await (
        await post(proxy.httpUrl, [
          { jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] },
          { jsonrpc: '2.0', id: 2, method: 'eth_blockNumber', params: [] },
        ])
      ).json()) as Answer[];
      expect(batch.map((a) => a.id)).toEqual([1, 2]);
      expect(batch[0]!.result).toBe(`0x${chain.anvil.chainId.toString(16)}`);

      const client = createPublicClient({ transport: webSocket(proxy.wsUrl) });
      try {
        const heads: bigint[] = [];
        const unwatch = client.watchBlockNumber({ onBlockNumber: (n) => heads.push(n), emitOnBegin: false });
        await new Promise((r) => setTimeout(r, 300));
        await chain.mine(1);
        await waitUntil(() => heads.length > 0);
        unwatch();
      } finally {
        await client.transport.getRpcClient().then((c) => c.close());
      }
      expect(proxy.counts()).toEqual({});
    } finally {
      await proxy.close();
    }
  });

  it('answers 429 and 503, drops connections and delays, and counts each', async () => {
    const proxy = await startFaultRpc(target(), { seed: 2, rates: { http429: 1 }, delayMs: [10, 20] });
    try {
      expect((await post(proxy.httpUrl, { jsonrpc: '2.0', id: 1, method: 'eth_chainId' })).status).toBe(429);
      proxy.setRates({ http429: 0, http503: 1 });
      expect((await post(proxy.httpUrl, { jsonrpc: '2.0', id: 1, method: 'eth_chainId' })).status).toBe(503);
      proxy.setRates({ http503: 0, drop: 1 });
      await expect(rpc(proxy.httpUrl, 'eth_chainId')).rejects.toThrow();
      proxy.setRates({ drop: 0, delay: 1 });
      expect((await rpc(proxy.httpUrl, 'eth_chainId')).result).toBeDefined();
      proxy.setRates({ delay: 0 });
      expect(proxy.counts()).toEqual({ '429': 1, '503': 1, drop: 1, delay: 1 });
    } finally {
      await proxy.close();
    }
  });

  it('answers as a backend lagging lagBlocks behind the head, only for the methods named', async () => {
    const proxy = await startFaultRpc(target(), {
      seed: 3,
      lagBlocks: 2,
      rates: { lag: 1, headerNotFound: 0 },
    });
    const onlyLogs = await startFaultRpc(target(), {
      seed: 3,
      lagBlocks: 2,
      rates: { lag: 1 },
      methods: ['eth_getLogs'],
    });
    try {
      const sender = chain.accounts[1]!.address;
      const nonceBefore = await chain.publicClient.getTransactionCount({ address: sender });
      const txHash = await chain.transfer(1, chain.accounts[2]!.address, 1n);
      const head = Number(await chain.mine(1));
      await chain.mine(1);
      const lagHead = head + 1 - 2;
      const block = await chain.publicClient.getBlock({ blockNumber: BigInt(head) });
      const hex = (n: number) => `0x${n.toString(16)}`;

      expect((await rpc(proxy.httpUrl, 'eth_blockNumber')).result).toBe(hex(lagHead));
      expect((await rpc(proxy.httpUrl, 'eth_getBlockByNumber', [hex(head), false])).result).toBeNull();
      expect((await rpc(proxy.httpUrl, 'eth_getBlockByHash', [block.hash, false])).result).toBeNull();
      const latest = (await rpc(proxy.httpUrl, 'eth_getBlockByNumber', ['latest', false])).result as {
        number: string;
      };
      expect(Number(latest.number)).toBe(lagHead);
      expect((await rpc(proxy.httpUrl, 'eth_getLogs', [{ blockHash: block.hash }])).result).toEqual([]);
      proxy.setRates({ headerNotFound: 1 });
      expect((await rpc(proxy.httpUrl, 'eth_getLogs', [{ blockHash: block.hash }])).error?.message).toBe(
        'header not found',
      );
      const ranged = (await rpc(proxy.httpUrl, 'eth_getLogs', [{ fromBlock: '0x0', toBlock: hex(head + 1) }]))
        .result as { blockNumber: string }[];
      expect(ranged.length).toBeGreaterThan(0);
      expect(ranged.every((l) => Number(l.blockNumber) <= lagHead)).toBe(true);
      expect((await rpc(proxy.httpUrl, 'eth_getTransactionReceipt', [txHash])).result).toBeNull();
      expect((await rpc(proxy.httpUrl, 'eth_getTransactionCount', [sender, 'latest'])).result).toBe(
        hex(nonceBefore),
      );
      expect(proxy.counts().header_not_found).toBe(1);

      // Headers from an up-to-date backend, logs from the lagging one.
      expect((await rpc(onlyLogs.httpUrl, 'eth_blockNumber')).result).toBe(hex(head + 1));
      expect((await rpc(onlyLogs.httpUrl, 'eth_getBlockByHash', [block.hash, false])).result).not.toBeNull();
      expect((await rpc(onlyLogs.httpUrl, 'eth_getLogs', [{ blockHash: block.hash }])).result).toEqual([]);
      proxy.setRates({ lag: 0 });
      const honest = (await rpc(proxy.httpUrl, 'eth_getLogs', [{ blockHash: block.hash }])).result;
      expect(honest).toHaveLength(1);
    } finally {
      await proxy.close();
      await onlyLogs.close();
    }
  });

  it('cuts the WebSocket', async () => {
    const proxy = await startFaultRpc(target(), { seed: 4, rates: { wsCut: 1 } });
    try {
      const socket = new WsClient(proxy.wsUrl);
      socket.on('error', () => {});
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
      expect(proxy.counts().ws_cut).toBe(1);
    } finally {
      await proxy.close();
    }
  });
});
