/**
 * Sweeping in a chaos run (docs/TREASURY.md §4): an HD root and issued deposit wallets made in the
 * database before the service starts, the chain's `sweep` section, and, after the run, what verify-sweeps.ts
 * needs: the service's treasury payouts and their transactions from the database, and the treasury
 * transactions the canonical chain holds, read from anvil directly (not through the faulty node).
 */
import { createHash } from 'node:crypto';
import type { Address, Hash } from 'viem';
import { english } from 'viem/accounts';
import type { Config } from '../src/config/types.js';
import { createDatabase, type DatabaseHandle } from '../src/store/db.js';
import { migrateToLatest } from '../src/store/migrate.js';
import type { PayoutRow } from '../src/store/schema.js';
import { issueAddress } from '../src/treasury/issue.js';
import { createVault, parseMasterKey } from '../src/vault/index.js';
import type { TestChain } from '../test/helpers/chain.js';
import { TEST_MASTER_KEY } from '../test/helpers/service.js';
import type { Random } from './random.js';

/** The sweep section of a run: every deposit reaches `minAmount`, so every one is swept. */
export const SWEEP = {
  intervalSeconds: 10,
  minAmount: '1',
  minAmountRaw: 1_000_000n,
  keepDust: '0.01',
  keepDustRaw: 10_000n,
} as const;

/** The `sweep` object of the chain's JSON config; the collection wallet (its key imported) pays the gas. */
export function sweepSection(collection: Address): Record<string, unknown> {
  return {
    enabled: true,
    intervalSeconds: SWEEP.intervalSeconds,
    minAmount: { USDT: SWEEP.minAmount },
    keepDust: { USDT: SWEEP.keepDust },
    gasWallet: collection,
  };
}

/** A 12-word mnemonic from the run's random source (BIP-39: 128 bits of entropy and a 4-bit checksum). */
function seededMnemonic(random: Random): string {
  const entropy = Buffer.from(random.hex(16).slice(2), 'hex');
  const checksum = createHash('sha256').update(entropy).digest()[0]!;
  const bits = [...entropy, checksum].map((b) => b.toString(2).padStart(8, '0')).join('');
  const words: string[] = [];
  for (let i = 0; i < 132; i += 11) words.push(english[Number.parseInt(bits.slice(i, i + 11), 2)]!);
  return words.join(' ');
}

/**
 * The HD root (as `wallet init-hd --import` stores it) and `count` issued deposit wallets, each watched for
 * every asset by issueAddress, in the run's database before any service runs. Lowercase addresses.
 */
export async function issueWallets(
  dbConfig: Config['db'],
  config: Pick<Config, 'chains'>,
  random: Random,
  count: number,
): Promise<Address[]> {
  const handle = await createDatabase(dbConfig);
  try {
    await migrateToLatest(handle.db);
    const vault = createVault({ db: handle.db, masterKey: parseMasterKey(TEST_MASTER_KEY) });
    await vault.initHd(seededMnemonic(random));
    const out: Address[] = [];
    for (let i = 0; i < count; i++) {
      const issued = await issueAddress(handle.db, { config, vault }, `chaos-user-${i}`);
      out.push(issued.address.toLowerCase() as Address);
    }
    return out;
  } finally {
    await handle.close();
  }
}

export type TreasuryPayoutRow = Pick<
  PayoutRow,
  | 'queue_id'
  | 'kind'
  | 'state'
  | 'from_address'
  | 'to_address'
  | 'amount_raw'
  | 'tx_hash'
  | 'reverted'
  | 'error_code'
  | 'error_message'
  | 'created_at'
>;

export interface TreasuryRecords {
  payouts: TreasuryPayoutRow[];
  /** Every transaction signed for a treasury payout: hash (lowercase) → its queue_id. */
  txs: Map<string, string>;
  /** Deposit rows (any status) with their tx hash, lowercase. */
  depositTxs: { txHash: string; to: string; status: string }[];
}

/** The service's treasury payouts, their signed transactions and every deposit row, from the database. */
export async function readTreasury(view: DatabaseHandle): Promise<TreasuryRecords> {
  const payouts = await view.db
    .selectFrom('payouts')
    .select([
      'queue_id',
      'kind',
      'state',
      'from_address',
      'to_address',
      'amount_raw',
      'tx_hash',
      'reverted',
      'error_code',
      'error_message',
      'created_at',
    ])
    .where('kind', 'in', ['sweep', 'gas_topup'])
    .execute();
  const txRows = await view.db
    .selectFrom('payout_txs')
    .innerJoin('payouts', 'payouts.queue_id', 'payout_txs.queue_id')
    .select(['payout_txs.tx_hash as tx_hash', 'payout_txs.queue_id as queue_id'])
    .where('payouts.kind', 'in', ['sweep', 'gas_topup'])
    .execute();
  const deposits = await view.db.selectFrom('deposits').select(['tx_hash', 'to_address', 'status']).execute();
  return {
    payouts: payouts.map((p) => ({ ...p, from_address: p.from_address.toLowerCase() })),
    txs: new Map(txRows.map((r) => [r.tx_hash.toLowerCase(), r.queue_id])),
    depositTxs: deposits.map((d) => ({
      txHash: d.tx_hash.toLowerCase(),
      to: d.to_address.toLowerCase(),
      status: String(d.status),
    })),
  };
}

/** A transaction of the canonical chain that moves a deposit wallet's funds or its gas. */
export interface TreasuryChainTx {
  hash: Hash;
  from: Address;
  to: Address;
  value: bigint;
  blockNumber: number;
  index: number;
  /** 'success' or 'reverted', from its receipt. */
  status: string;
}

/**
 * Every canonical transaction from `fromBlock` sent by a deposit wallet (a sweep) or sent by the gas
 * wallet to one (a top-up), in chain order: the chain's own account of the treasury, whatever the
 * service recorded.
 */
export async function treasuryChainTxs(
  chain: TestChain,
  fromBlock: number,
  wallets: readonly Address[],
  gasWallet: Address,
): Promise<TreasuryChainTx[]> {
  const issued = new Set(wallets.map((w) => w.toLowerCase()));
  const head = Number(await chain.blockNumber());
  const out: TreasuryChainTx[] = [];
  for (let n = fromBlock; n <= head; n++) {
    const block = await chain.publicClient.getBlock({ blockNumber: BigInt(n), includeTransactions: true });
    for (const tx of block.transactions) {
      const from = tx.from.toLowerCase() as Address;
      const to = (tx.to ?? '0x').toLowerCase() as Address;
      if (!issued.has(from) && !(from === gasWallet.toLowerCase() && issued.has(to))) continue;
      const receipt = await chain.publicClient.getTransactionReceipt({ hash: tx.hash });
      out.push({
        hash: tx.hash.toLowerCase() as Hash,
        from,
        to,
        value: tx.value,
        blockNumber: n,
        index: tx.transactionIndex,
        status: receipt.status,
      });
    }
  }
  return out;
}

/**
 * Whether the treasury is at rest: no treasury payout in flight, and no issued wallet holding what a
 * round would sweep (its balance at the head is below `minAmount`).
 */
export async function treasuryAtRest(
  view: DatabaseHandle,
  chain: TestChain,
  wallets: readonly Address[],
): Promise<{ inFlight: number; unswept: number }> {
  const active = await view.db
    .selectFrom('payouts')
    .select('queue_id')
    .where('kind', 'in', ['sweep', 'gas_topup'])
    .where('state', 'not in', ['confirmed', 'failed'])
    .execute();
  let unswept = 0;
  for (const w of wallets) if ((await chain.balanceOf(w)) >= SWEEP.minAmountRaw) unswept++;
  return { inFlight: active.length, unswept };
}

/**
 * Follows the treasury at the end of a run, while blocks keep coming: `quietFor(ms)` is true once it has
 * been at rest (treasuryAtRest) on every poll for `ms`, longer than a round's interval, so no round
 * planned from an older block is still about to store something. Without wallets it is always at rest.
 */
export function createTreasuryWatch(view: DatabaseHandle, chain: TestChain, wallets: readonly Address[]) {
  let since: number | undefined;
  let state = { inFlight: 0, unswept: 0 };
  return {
    async quietFor(ms: number): Promise<boolean> {
      if (wallets.length === 0) return true;
      state = await treasuryAtRest(view, chain, wallets);
      if (state.inFlight > 0 || state.unswept > 0) since = undefined;
      else since ??= Date.now();
      return since !== undefined && Date.now() - since >= ms;
    },
    describe: () => `${state.inFlight} treasury payouts in flight, ${state.unswept} wallets unswept`,
  };
}
