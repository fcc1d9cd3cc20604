import type { Hex, PublicClient } from 'viem';
import type { ChainConfig, SweepConfig } from '../config/types.js';
import { chunks } from '../internal/options.js';
import { tokenBalance, transferCalldata } from '../payouts/chain.js';
import { maxGasPrice, suggestFees } from '../payouts/fees.js';
import { issuedAddresses } from '../store/repos/addresses.js';
import { payoutsSpendingFrom } from '../store/repos/payouts.js';
import type { Db, PayoutState } from '../store/schema.js';
import {
  gasKey,
  type InFlightSpend,
  planSweep,
  type SweepFees,
  type SweepPlan,
  type SweepWallet,
  spareFunds,
  tokenSweepsOf,
} from './sweep-plan.js';

/**
 * The node and database reads of a sweep plan (sweep-plan.ts decides): every issued address's balances at
 * one block, the chain's payouts in flight from them and from the gas wallet, the fees now, and the gas of
 * each token sweep the plan will hold.
 */

/**
 * Payouts that still take money from their wallet: `accepted` (no sender yet: counted against its
 * from_address, the wallet it may be paid from) up to `mined` (a block may yet be reorganised away).
 */
const SPENDING_STATES: readonly PayoutState[] = ['accepted', 'signed', 'sent', 'unresolved', 'mined'];

/** Wallets read from the node at once: a thousand deposit wallets must not be a thousand calls at a time. */
const WALLETS_AT_ONCE = 50;

export interface SweepReadDeps {
  db: Db;
  client: PublicClient;
  /** The payout engine's tuning: the gas of a payout without a limit yet, the margin on estimates. */
  gasGuess: bigint;
  gasMarginPct: number;
}

/**
 * What payouts of `chainName` in flight take from `wallets` (lowercase): a payout counts against its
 * sender once chosen, else its from_address; a mined one only while its block is after `block` (up to
 * it, the balance read there already shows it).
 */
export async function inFlightFrom(
  db: Db,
  chainName: string,
  wallets: readonly string[],
  block: bigint,
  gasGuess: bigint,
): Promise<InFlightSpend[]> {
  const out: InFlightSpend[] = [];
  const wanted = new Set(wallets);
  for (const row of await payoutsSpendingFrom(db, chainName, wallets, SPENDING_STATES)) {
    const wallet = (row.sender ?? row.from_address).toLowerCase();
    if (!wanted.has(wallet)) continue;
    if (row.state === 'mined' && row.mined_block !== null && BigInt(row.mined_block) <= block) continue;
    out.push({
      wallet,
      assetLc: row.token_address,
      amount: BigInt(row.amount_raw),
      gas: row.gas_limit === null ? gasGuess : BigInt(row.gas_limit),
    });
  }
  return out;
}

/**
 * The fee now and what a sweep is signed with. The payout engine signs a sweep with its usual fees
 * (src/payouts/fees.ts: twice the next base fee plus the median tip, under the chain's cap) capped by the
 * sweep's `maxFeeGwei`; the plan prices the gas the same way, so a top-up holds what the signature needs.
 * The fee now is the block's base fee plus that tip (or the gas price on a chain without EIP-1559).
 */
export async function readSweepFees(
  client: PublicClient,
  chain: Pick<ChainConfig, 'maxFeePerGasWei'>,
  sweep: Pick<SweepConfig, 'maxFeePerGasWei'>,
): Promise<SweepFees> {
  // The latest block, not the number just read: a load-balanced node's other backend may not have it yet.
  const [signed, { baseFeePerGas }] = await Promise.all([
    suggestFees(client, chain.maxFeePerGasWei),
    client.getBlock({ blockTag: 'latest' }),
  ]);
  const maxFeePerGas = lower(maxGasPrice(signed), sweep.maxFeePerGasWei);
  if (signed.type === 'legacy' || baseFeePerGas === null || baseFeePerGas === undefined) {
    return { currentPerGas: maxGasPrice(signed), maxFeePerGas };
  }
  return { currentPerGas: baseFeePerGas + signed.maxPriorityFeePerGas, maxFeePerGas };
}

function lower(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

async function readWallet(
  client: PublicClient,
  row: { hd_index: number; user_ref: string; address: string },
  tokens: readonly Hex[],
  blockNumber: bigint,
): Promise<SweepWallet> {
  const address = row.address.toLowerCase() as Hex;
  const [native, ...balances] = await Promise.all([
    client.getBalance({ address, blockNumber }),
    ...tokens.map((t) => tokenBalance(client, t, address, blockNumber)),
  ]);
  return {
    address,
    index: Number(row.hd_index),
    userRef: row.user_ref,
    native,
    tokens: new Map(tokens.map((t, i) => [t as string, balances[i] ?? 0n])),
  };
}

/**
 * The gas limit of each token sweep the plan will hold: the node's estimate of the transfer to the
 * collection wallet at `block`, with the payout margin. A refused estimate is left out (the plan then
 * uses the bound and says so).
 */
async function estimateSweeps(
  deps: SweepReadDeps,
  chain: ChainConfig & { sweep: SweepConfig },
  collection: Hex,
  wallets: readonly SweepWallet[],
  inFlight: readonly InFlightSpend[],
  fees: SweepFees,
  block: bigint,
): Promise<Map<string, bigint>> {
  const spare = spareFunds(wallets, inFlight, fees.maxFeePerGas);
  const wanted = wallets.flatMap((w) =>
    tokenSweepsOf(
      { chain, sweep: chain.sweep, gasLimits: new Map(), gasBound: 0n },
      w.address,
      spare.get(w.address)?.tokens ?? new Map(),
    ).map((t) => ({ wallet: w.address as Hex, token: t.tokenLc as Hex, amount: t.amount })),
  );
  const limits = new Map<string, bigint>();
  for (const slice of chunks(wanted, WALLETS_AT_ONCE)) {
    await Promise.all(
      slice.map(async ({ wallet, token, amount }) => {
        try {
          const gas = await deps.client.estimateGas({
            account: wallet,
            to: token,
            data: transferCalldata(collection, amount),
            blockNumber: block,
          });
          limits.set(gasKey(wallet, token), (gas * BigInt(100 + deps.gasMarginPct)) / 100n);
        } catch {
          // the bound stands in; the plan marks it
        }
      }),
    );
  }
  return limits;
}

/**
 * One chain's sweep plan, read at the newest confirmed block (the head less `confirmHeight - 1`); undefined
 * when the chain has no `sweep`.
 */
export async function readSweepPlan(deps: SweepReadDeps, chain: ChainConfig): Promise<SweepPlan | undefined> {
  const { sweep, collectionAddressLc } = chain;
  if (!sweep || !collectionAddressLc) return undefined;
  const swept = { ...chain, sweep };
  // The confirmed balances (issue 12): at the newest block a deposit counts as final in (`confirmHeight`
  // blocks deep), so a deposit that a reorganisation may still take away is never swept.
  const head = await deps.client.getBlockNumber({ cacheTime: 0 });
  const deep = BigInt(Math.max(chain.confirmHeight - 1, 0));
  const block = head > deep ? head - deep : 0n;
  // The fee, though, is the one a transaction sent now pays: the head's.
  const rows = await issuedAddresses(deps.db);
  const tokens = chain.tokens.map((t) => t.addressLc as Hex);
  const wallets: SweepWallet[] = [];
  for (const slice of chunks(rows, WALLETS_AT_ONCE)) {
    wallets.push(...(await Promise.all(slice.map((row) => readWallet(deps.client, row, tokens, block)))));
  }
  const gasWallet = sweep.gasWalletLc;
  const [fees, inFlight, gasNative] = await Promise.all([
    readSweepFees(deps.client, chain, sweep),
    inFlightFrom(deps.db, chain.name, [...wallets.map((w) => w.address), gasWallet], block, deps.gasGuess),
    deps.client.getBalance({ address: gasWallet, blockNumber: block }),
  ]);
  const gasLimits = await estimateSweeps(deps, swept, collectionAddressLc, wallets, inFlight, fees, block);
  return planSweep({
    chain,
    sweep,
    block,
    fees,
    wallets,
    inFlight,
    gasLimits,
    gasBound: deps.gasGuess,
    gasWallet: { address: gasWallet, native: gasNative },
  });
}
