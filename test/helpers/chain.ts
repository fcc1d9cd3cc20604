import {
  type Address,
  type Chain,
  createPublicClient,
  createTestClient,
  createWalletClient,
  defineChain,
  encodeFunctionData,
  type Hash,
  type Hex,
  http,
  type LocalAccount,
  type PublicClient,
  parseGwei,
  type TestClient,
  type Transport,
  toHex,
  type WalletClient,
} from 'viem';
import { mnemonicToAccount, privateKeyToAccount } from 'viem/accounts';
import { foundry } from 'viem/chains';
import { type AnvilInstance, type StartAnvilOptions, startAnvil } from '../../src/chain/anvil.js';
import { testTokenDeployData, testUsdtAbi } from '../../src/chain/token.js';

/** anvil's default mnemonic: its dev accounts and their keys are public knowledge. */
export const anvilMnemonic = 'test test test test test test test test test test test junk';

export interface TestAccount {
  address: Address;
  privateKey: Hex;
  account: LocalAccount;
}

/** A dev account by index, or any local account (a service wallet the test made a key for). */
export type AccountRef = number | LocalAccount;

export interface TxOptions {
  nonce?: number;
  gas?: bigint;
  maxFeePerGas?: bigint;
  maxPriorityFeePerGas?: bigint;
}

/** One entry of `anvil_reorg`: a raw signed transaction (or a request) and the index of the new block. */
export type ReorgTx = [tx: Hex | Record<string, unknown>, blockIndex: number];

export interface TestChain {
  anvil: AnvilInstance;
  chain: Chain;
  publicClient: PublicClient<Transport, Chain>;
  testClient: TestClient<'anvil', Transport, Chain>;
  accounts: TestAccount[];
  walletClients: WalletClient<Transport, Chain, LocalAccount>[];
  /** The deployed TestUSDT; throws before `deployToken()`. */
  readonly token: Address;
  /** Deploys TestUSDT (6 decimals unless told) from account 0 (its owner), mines it, and makes it `token`. */
  deployToken(decimals?: number): Promise<Address>;
  /** Mints to `to` and mines it (setup, not under test). */
  mint(to: Address, raw: bigint): Promise<Hash>;
  /** Sends a USDT transfer; returns the hash once the node has it, NOT mined. */
  transfer(from: AccountRef, to: Address, raw: bigint, options?: TxOptions): Promise<Hash>;
  /** Sends one transaction with one Transfer log per recipient; NOT mined. */
  multiTransfer(
    from: AccountRef,
    transfers: { to: Address; raw: bigint }[],
    options?: TxOptions,
  ): Promise<Hash>;
  /** Signs a USDT transfer without sending it (nonce defaults to the sender's pending count). */
  signTransfer(from: AccountRef, to: Address, raw: bigint, options?: TxOptions): Promise<Hex>;
  /** eth_sendRawTransaction. */
  sendRawTransaction(raw: Hex): Promise<Hash>;
  /** Owner-only token calls, mined (setup). */
  pause(): Promise<void>;
  unpause(): Promise<void>;
  addBlackList(user: Address): Promise<void>;
  removeBlackList(user: Address): Promise<void>;
  balanceOf(owner: Address): Promise<bigint>;
  /** Sets an address's ETH balance directly (gas money for service wallets). */
  setEthBalance(address: Address, wei: bigint): Promise<void>;
  /** Mines `blocks` blocks (anvil_mine); returns the new head number. */
  mine(blocks?: number): Promise<bigint>;
  /** anvil_reorg: replaces the last `depth` blocks with `depth` new ones holding `txs`. */
  reorg(depth: number, txs?: ReorgTx[]): Promise<void>;
  /** anvil_rollback: removes the last `depth` blocks without replacing them. */
  rollback(depth: number): Promise<void>;
  blockNumber(): Promise<bigint>;
  stop(): Promise<void>;
}

const transferGas = 100_000n;
const setupGas = 3_000_000n;

export async function createTestChain(options: StartAnvilOptions = { noMining: true }): Promise<TestChain> {
  const anvil = await startAnvil(options);
  const chain = defineChain({
    ...foundry,
    id: anvil.chainId,
    rpcUrls: { default: { http: [anvil.rpcUrl], webSocket: [anvil.wsUrl] } },
  });
  // cacheTime 0: viem otherwise serves a block number up to 4 s old, and tests mine by hand.
  const transport = http(anvil.rpcUrl, { retryCount: 0 });
  const publicClient = createPublicClient({ chain, transport, cacheTime: 0, pollingInterval: 100 });
  const testClient = createTestClient({ chain, transport, mode: 'anvil', cacheTime: 0 });

  const accounts = Array.from({ length: options.accounts ?? 10 }, (_, addressIndex) => {
    const hd = mnemonicToAccount(options.mnemonic ?? anvilMnemonic, { addressIndex });
    const privateKey = toHex(hd.getHdKey().privateKey!);
    return { address: hd.address, privateKey, account: privateKeyToAccount(privateKey) };
  });
  const walletClients = accounts.map(({ account }) =>
    createWalletClient({ chain, transport, account, cacheTime: 0 }),
  );

  const rpc = (method: string, params: unknown[]): Promise<unknown> =>
    (publicClient.request as (args: { method: string; params: unknown[] }) => Promise<unknown>)({
      method,
      params,
    });

  const resolveAccount = (ref: AccountRef): LocalAccount => {
    if (typeof ref !== 'number') return ref;
    const found = accounts[ref];
    if (!found) throw new Error(`no dev account ${ref}`);
    return found.account;
  };

  let tokenAddress: Address | undefined;
  const requireToken = (): Address => {
    if (!tokenAddress) throw new Error('deployToken() first');
    return tokenAddress;
  };

  const sign = async (from: LocalAccount, tx: { to?: Address; data: Hex; gas: bigint }, opts: TxOptions) => {
    const block = await publicClient.getBlock({ blockTag: 'latest' });
    const maxPriorityFeePerGas = opts.maxPriorityFeePerGas ?? parseGwei('1');
    // Twice the base fee: stays includable while a test mines empty blocks that move it.
    const maxFeePerGas =
      opts.maxFeePerGas ?? (block.baseFeePerGas ?? parseGwei('1')) * 2n + maxPriorityFeePerGas;
    const nonce =
      opts.nonce ?? (await publicClient.getTransactionCount({ address: from.address, blockTag: 'pending' }));
    return from.signTransaction({
      chainId: chain.id,
      type: 'eip1559',
      to: tx.to ?? null,
      data: tx.data,
      gas: opts.gas ?? tx.gas,
      nonce,
      maxFeePerGas,
      maxPriorityFeePerGas,
    });
  };

  // One send at a time per sender: the pending nonce is read, used and seen by the node before the next.
  const senderQueues = new Map<Address, Promise<unknown>>();
  const sendSigned = (
    from: LocalAccount,
    tx: { to?: Address; data: Hex; gas: bigint },
    opts: TxOptions = {},
  ) => {
    const previous = senderQueues.get(from.address) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(async () => sendRawTransaction(await sign(from, tx, opts)));
    senderQueues.set(from.address, next);
    return next;
  };

  const sendRawTransaction = (raw: Hex): Promise<Hash> =>
    publicClient.sendRawTransaction({ serializedTransaction: raw });

  const mine = async (blocks = 1): Promise<bigint> => {
    await testClient.mine({ blocks });
    return publicClient.getBlockNumber({ cacheTime: 0 });
  };

  const waitMined = async (hash: Hash): Promise<void> => {
    // Under --no-mining nothing lands until we mine; under automine/interval mining a receipt comes by itself.
    if (options.noMining) await mine(1);
    const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    if (receipt.status !== 'success') throw new Error(`setup transaction ${hash} reverted`);
  };

  const ownerCall = async (data: Hex): Promise<Hash> => {
    const hash = await sendSigned(resolveAccount(0), { to: requireToken(), data, gas: setupGas });
    await waitMined(hash);
    return hash;
  };

  const transferData = (to: Address, raw: bigint) =>
    encodeFunctionData({ abi: testUsdtAbi, functionName: 'transfer', args: [to, raw] });

  return {
    anvil,
    chain,
    publicClient,
    testClient,
    accounts,
    walletClients,
    get token() {
      return requireToken();
    },
    async deployToken(decimals = 6) {
      const deployer = resolveAccount(0);
      const hash = await sendSigned(deployer, { data: testTokenDeployData(decimals), gas: setupGas });
      await waitMined(hash);
      const receipt = await publicClient.getTransactionReceipt({ hash });
      if (!receipt.contractAddress) throw new Error('TestUSDT deployment has no contract address');
      tokenAddress = receipt.contractAddress;
      return tokenAddress;
    },
    mint: (to, raw) =>
      ownerCall(encodeFunctionData({ abi: testUsdtAbi, functionName: 'mint', args: [to, raw] })),
    transfer: (from, to, raw, opts) =>
      sendSigned(
        resolveAccount(from),
        { to: requireToken(), data: transferData(to, raw), gas: transferGas },
        opts,
      ),
    multiTransfer: (from, transfers, opts) =>
      sendSigned(
        resolveAccount(from),
        {
          to: requireToken(),
          data: encodeFunctionData({
            abi: testUsdtAbi,
            functionName: 'multiTransfer',
            args: [transfers.map((t) => t.to), transfers.map((t) => t.raw)],
          }),
          gas: 60_000n + 60_000n * BigInt(transfers.length),
        },
        opts,
      ),
    signTransfer: (from, to, raw, opts = {}) =>
      sign(resolveAccount(from), { to: requireToken(), data: transferData(to, raw), gas: transferGas }, opts),
    sendRawTransaction,
    async pause() {
      await ownerCall(encodeFunctionData({ abi: testUsdtAbi, functionName: 'pause' }));
    },
    async unpause() {
      await ownerCall(encodeFunctionData({ abi: testUsdtAbi, functionName: 'unpause' }));
    },
    async addBlackList(user) {
      await ownerCall(encodeFunctionData({ abi: testUsdtAbi, functionName: 'addBlackList', args: [user] }));
    },
    async removeBlackList(user) {
      await ownerCall(
        encodeFunctionData({ abi: testUsdtAbi, functionName: 'removeBlackList', args: [user] }),
      );
    },
    balanceOf: (owner) =>
      publicClient.readContract({
        address: requireToken(),
        abi: testUsdtAbi,
        functionName: 'balanceOf',
        args: [owner],
      }),
    setEthBalance: (address, wei) => testClient.setBalance({ address, value: wei }),
    mine,
    async reorg(depth, txs = []) {
      // depth must be a plain JSON integer: anvil rejects a hex quantity here.
      await rpc('anvil_reorg', [depth, txs]);
    },
    async rollback(depth) {
      await rpc('anvil_rollback', [depth]);
    },
    blockNumber: () => publicClient.getBlockNumber({ cacheTime: 0 }),
    stop: () => anvil.stop(),
  };
}

/** How long mineUntil leaves the service after each block, to see it (its watcher polls every 100 ms). */
const SEE_BLOCK_MS = 200;

/**
 * Mines one block at a time, letting the service see each, until `done` holds (the service needs new
 * blocks to move deposits and payouts on). `done` is asked before each block, so it may also prepare
 * the next one (e.g. set its base fee). Throws after `maxBlocks` blocks.
 */
export async function mineUntil(
  chain: Pick<TestChain, 'mine'>,
  done: () => Promise<boolean> | boolean,
  what: string,
  maxBlocks = 40,
): Promise<void> {
  for (let i = 0; i < maxBlocks; i++) {
    if (await done()) return;
    await chain.mine(1);
    await new Promise((r) => setTimeout(r, SEE_BLOCK_MS));
  }
  if (!(await done())) throw new Error(`not reached after ${maxBlocks} blocks: ${what}`);
}
