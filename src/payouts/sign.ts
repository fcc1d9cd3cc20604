import { type Hex, keccak256 } from 'viem';
import { isNativeAddress } from '../config/chains.js';
import type { Common } from '../context/common.js';
import { errorMessage } from '../internal/errors.js';
import type { ErrorCode } from '../protocol/errors.js';
import { allocateNonces } from '../store/repos/nonces.js';
import { reroutePayout } from '../store/repos/payout-routes.js';
import { insertPayoutTxs, payoutsInState, spendingOf } from '../store/repos/payouts.js';
import type { PayoutRow, PayoutTxRow } from '../store/schema.js';
import { releaseBatchMembers } from './batch-settle.js';
import { createBatchGatherer } from './batches.js';
import { isRevert, tokenBalance } from './chain.js';
import type { PayoutParts } from './context.js';
import { capFees, type Fees, feeCapOf, feesWithin, maxGasPrice } from './fees.js';
import { failure, isAnsweredKind, payoutResponse } from './respond.js';
import { type GroupMove, IN_FLIGHT_PAYOUT_STATES, movePayout, movePayoutGroup } from './state.js';
import { transferCall } from './transactions.js';

/** Wallets signed for at once in a pass (each a node call and a transaction of its own). */
const WALLETS_AT_ONCE = 4;

/** The gas of a plain value transfer to an account without code: exact, so it gets no margin. */
const PLAIN_TRANSFER_GAS = 21_000n;

type Decision =
  /** `fee`: its own fees, where they differ from the pass's (a sweep sent with the gas money it holds). */
  | { row: PayoutRow; kind: 'pay'; sender: Hex; gas?: bigint; fee?: Fees }
  | { row: PayoutRow; kind: 'fail'; code: ErrorCode; message: string }
  | { row: PayoutRow; kind: 'later' }
  /** The other candidate wallet pays it (the collection wallet, or back the requested one): its sender signs. */
  | { row: PayoutRow; kind: 'reroute'; to: string };

/**
 * `accepted → signed` (or `failed`): the sender chosen by the PROTOCOL rules, the transfer simulated, the
 * nonce taken and the signed transaction stored, all before anything is broadcast.
 */
export function createSigner(common: Common, ctx: PayoutParts) {
  const { db, client, signKey, vault, fees } = ctx;
  const { logger } = common;
  const tuning = common.options.payouts;
  const { rmq } = common.config;
  const { collectionAddressLc, name: chainName } = ctx.chain;
  const { serializable, txFields, feeDetail } = ctx.transactions;
  const batches = createBatchGatherer(common, ctx);
  // A sweep is signed at most at the sweep's fee cap: its round topped the wallet up for that price.
  const configured = common.config.chains.find((c) => c.name === chainName);
  const feeOf = (row: PayoutRow, fee: Fees): Fees => {
    const cap = configured ? feeCapOf(configured, row.kind) : maxGasPrice(fee);
    return maxGasPrice(fee) > cap ? capFees(fee, cap) : fee;
  };

  // ---- accepted → signed (or failed) -------------------------------------------------------------

  /**
   * Token and native money each candidate wallet can still spend on this chain: its balance at `head` (the
   * block the tracker has just followed, so a payout mined by then is no longer in flight and counts once)
   * less what this chain's payouts in flight will take (a native payout its value and its gas, a token
   * payout its amount of the token and its gas); and whether anything of it is in flight at all.
   */
  async function spendable(addresses: Hex[], tokens: Hex[], price: bigint, head: number) {
    const inFlight = await spendingOf(db, chainName, addresses, IN_FLIGHT_PAYOUT_STATES);
    const blockNumber = BigInt(head);
    const result = new Map<string, { native: bigint; token: Map<string, bigint>; busy: boolean }>();
    await Promise.all(
      addresses.map(async (address) => {
        const [native, ...balances] = await Promise.all([
          client.getBalance({ address, blockNumber }),
          ...tokens.map((t) => tokenBalance(client, t, address, blockNumber)),
        ]);
        const token = new Map(tokens.map((t, i) => [t as string, balances[i]!]));
        result.set(address, { native, token, busy: false });
      }),
    );
    for (const p of inFlight) {
      const funds = result.get(p.sender!);
      if (!funds) continue;
      funds.busy = true;
      funds.native -= BigInt(p.gas_limit ?? '0') * price;
      if (isNativeAddress(p.token_address)) funds.native -= BigInt(p.amount_raw);
      else funds.token.set(p.token_address, (funds.token.get(p.token_address) ?? 0n) - BigInt(p.amount_raw));
    }
    return result;
  }

  /**
   * The gas each payout is checked for before its estimate: a native payout to an account without code
   * takes exactly 21,000 (so a wallet holding the amount and that fee can pay it); anything else
   * `gasGuess`, above what a token transfer takes.
   */
  async function gasGuesses(rows: PayoutRow[], head: number): Promise<bigint[]> {
    const recipients = [
      ...new Set(rows.filter((r) => isNativeAddress(r.token_address)).map((r) => r.to_address)),
    ];
    const blockNumber = BigInt(head);
    const codes = await Promise.all(
      recipients.map((address) => client.getCode({ address: address as Hex, blockNumber })),
    );
    const plain = new Set(recipients.filter((_, i) => !codes[i] || codes[i] === '0x'));
    return rows.map((r) => {
      if (isNativeAddress(r.token_address) && plain.has(r.to_address)) return PLAIN_TRANSFER_GAS;
      // A treasury transfer carries the gas limit its round planned (and topped the wallet up for): checked
      // against the guess, a sweep from a wallet holding just that gas would never be sent.
      if (!isAnsweredKind(r.kind) && r.gas_limit !== null) return BigInt(r.gas_limit);
      return tuning.gasGuess;
    });
  }

  /**
   * PROTOCOL §5: the requested wallet if the vault holds it and it can pay the amount and the gas (for the
   * native coin: the value and the gas together), else the collection wallet. Only the wallet the payout
   * is routed to (claims.ts), whose sender lease this instance holds, signs it here: when the choice is
   * the other wallet, the payout is routed on to it, and its sender decides it next. Balances are read for
   * both (reading takes no nonce).
   */
  async function chooseSenders(rows: PayoutRow[], fee: Fees, head: number): Promise<Decision[]> {
    const held = new Map<string, boolean>();
    const candidatesOf = async (row: PayoutRow) => {
      // A treasury transfer moves money out of one wallet in particular: never from the collection wallet.
      const fallback = isAnsweredKind(row.kind) ? collectionAddressLc : undefined;
      const list = [row.from_address, fallback].filter((a): a is string => Boolean(a));
      const out: Hex[] = [];
      for (const a of new Set(list)) {
        if (!held.has(a)) held.set(a, await vault.has(a));
        if (held.get(a)) out.push(a as Hex);
      }
      return out;
    };
    const chosen = (row: PayoutRow, sender: Hex, own?: Fees): Decision =>
      sender !== row.route
        ? { row, kind: 'reroute', to: sender }
        : own
          ? { row, kind: 'pay', sender, fee: own }
          : { row, kind: 'pay', sender };
    const candidates = await Promise.all(rows.map(candidatesOf));
    const addresses = [...new Set(candidates.flat())];
    const tokens = [...new Set(rows.map((r) => r.token_address as Hex))].filter((t) => !isNativeAddress(t));
    const [funds, guesses] = await Promise.all([
      spendable(addresses, tokens, maxGasPrice(fee), head),
      gasGuesses(rows, head),
    ]);
    return rows.map((row, i) => {
      const amount = BigInt(row.amount_raw);
      const gasCost = guesses[i]! * maxGasPrice(feeOf(row, fee));
      const native = isNativeAddress(row.token_address);
      for (const sender of candidates[i]!) {
        const f = funds.get(sender)!;
        if (native) {
          if (f.native >= amount + gasCost) {
            f.native -= amount + gasCost;
            return chosen(row, sender);
          }
          continue;
        }
        const tokenLeft = f.token.get(row.token_address) ?? 0n;
        if (tokenLeft >= amount && f.native >= gasCost) {
          f.token.set(row.token_address, tokenLeft - amount);
          f.native -= gasCost;
          return chosen(row, sender);
        }
        // A sweep's wallet holds the gas of its round's price: when the base fee rose since, it is sent
        // with what that pays for, if still enough for the next block.
        const fitted =
          row.kind === 'sweep' && tokenLeft >= amount
            ? feesWithin(feeOf(row, fee), guesses[i]!, f.native)
            : undefined;
        if (fitted) {
          f.token.set(row.token_address, tokenLeft - amount);
          f.native -= guesses[i]! * maxGasPrice(fitted);
          return chosen(row, sender, fitted);
        }
      }
      // Short only while payouts of these wallets are in flight: their outcome (a failure, a reorganisation)
      // can change the answer, so decide once they are settled rather than refuse for good now.
      if (candidates[i]!.some((sender) => funds.get(sender)!.busy)) return { row, kind: 'later' };
      const where = candidates[i]!.length ? candidates[i]!.join(' or ') : 'no wallet the vault holds';
      return {
        row,
        kind: 'fail',
        code: 'insufficient_funds',
        message: native
          ? `not enough ${row.symbol} for the amount and the gas in ${where}`
          : `not enough token or gas in ${where}`,
      };
    });
  }

  /**
   * eth_estimateGas is also the simulation: a paused token or a blacklisted sender fails here, before sending.
   * Against the latest block, as geth does by default (the funds of our transactions in flight are counted by
   * `spendable`): anvil's default is its pending block, which executes every pooled transaction for each
   * estimate, 20 ms each with 2,000 of ours in the pool.
   */
  async function estimate(decision: Decision & { kind: 'pay' }): Promise<Decision> {
    const { row, sender } = decision;
    try {
      const gas = await client.estimateGas({ account: sender, ...transferCall(row), blockTag: 'latest' });
      if (!isAnsweredKind(row.kind) && row.gas_limit !== null) {
        // Signed with the limit its round planned and funded: the wallet holds no gas for more.
        const planned = BigInt(row.gas_limit);
        if (gas <= planned) return { ...decision, gas: planned };
        return {
          row,
          kind: 'fail',
          code: 'insufficient_funds',
          message: `the transfer now needs ${gas} gas, above the ${planned} its round planned`,
        };
      }
      // A plain value transfer to an account without code costs exactly its intrinsic gas.
      if (gas === PLAIN_TRANSFER_GAS) return { ...decision, gas };
      return { ...decision, gas: (gas * BigInt(100 + tuning.gasMarginPct)) / 100n };
    } catch (err) {
      if (isRevert(err)) {
        return {
          row,
          kind: 'fail',
          code: 'would_revert',
          message: `the transfer would revert: ${errorMessage(err).split('\n')[0]}`,
        };
      }
      logger.warn({ queueId: row.queue_id, err }, 'gas estimate failed; retrying later');
      return { row, kind: 'later' };
    }
  }

  async function failPayouts(decisions: (Decision & { kind: 'fail' })[]) {
    if (decisions.length === 0) return;
    const now = Date.now();
    const failed = await ctx.write(
      decisions.map((d) => d.row.route),
      async (trx) => {
        const moved: (Decision & { kind: 'fail' })[] = [];
        for (const d of decisions) {
          const answer = payoutResponse(
            rmq,
            signKey,
            { ...d.row, sender: null },
            failure(d.code, d.message),
            ctx.chain,
          );
          const move = {
            to: 'failed' as const,
            set: { error_code: d.code, error_message: d.message.slice(0, 1000) },
            audit: { detail: { error: d.code, message: d.message } },
            answer,
          };
          if (!(await movePayout(trx, d.row, move, now))) continue;
          // A batch refused before any node had it: its payouts are paid one by one instead.
          if (d.row.kind === 'batch') await releaseBatchMembers(trx, d.row, d.code, now);
          moved.push(d);
        }
        return moved;
      },
    );
    for (const d of failed) {
      logger.warn({ queueId: d.row.queue_id, code: d.code, reason: d.message }, `${d.row.kind} failed`);
      common.metrics.payoutTransition(d.row.state, 'failed');
    }
    ctx.afterCommit();
  }

  /** Routes payouts on to the wallet chosen to pay them; resolves how many moved. */
  async function reroute(decisions: (Decision & { kind: 'reroute' })[]): Promise<number> {
    if (decisions.length === 0) return 0;
    const moved = await ctx.write(
      decisions.map((d) => d.row.route),
      async (trx) => {
        let n = 0;
        for (const d of decisions) if (await reroutePayout(trx, d.row, d.row.route!, d.to)) n++;
        return n;
      },
    );
    for (const d of decisions) {
      logger.info(
        { queueId: d.row.queue_id, from: d.row.route, to: d.to },
        'routed on to the wallet that pays it',
      );
    }
    // The collection wallet's sender may be this instance, or nobody yet: look at once.
    ctx.claimSoon();
    ctx.poke();
    return moved;
  }

  /** Nonces for one sender's payouts, signed and stored in one transaction with the state change. */
  async function signForSender(sender: Hex, group: (Decision & { kind: 'pay' })[], fee: Fees) {
    const chainNonce = await client.getTransactionCount({ address: sender, blockTag: 'latest' });
    // Loads the sender's encrypted key now: inside the transaction below, signing must not query the database.
    if (!(await vault.has(sender))) throw new Error(`the vault lost the key of ${sender}`);
    const now = Date.now();
    const signed: { queueId: string; hash: Hex; nonce: number }[] = [];
    await ctx.write([sender], async (trx) => {
      const { first, repairedFrom } = await allocateNonces(trx, chainName, sender, group.length, chainNonce);
      if (repairedFrom !== undefined) {
        logger.warn(
          { sender, counter: repairedFrom, next: first, chainNonce },
          'nonce counter disagreed with the chain and our transactions; repaired',
        );
      }
      const txs: PayoutTxRow[] = [];
      const moves: GroupMove[] = [];
      for (const [i, d] of group.entries()) {
        const nonce = first + i;
        const raw = await vault.signTransaction(sender, serializable(d.row, nonce, d.gas!, fee));
        const hash = keccak256(raw);
        txs.push({
          tx_hash: hash,
          queue_id: d.row.queue_id,
          chain_name: chainName,
          sender,
          nonce,
          raw_tx: raw,
          ...txFields(fee),
          created_at: now,
        });
        const gas = d.gas!.toString();
        moves.push({
          row: d.row,
          own: { nonce, gas_limit: gas, tx_hash: hash },
          audit: { txHash: hash, detail: { sender, nonce, gas, ...feeDetail(fee) } },
        });
        signed.push({ queueId: d.row.queue_id, hash, nonce });
      }
      // One conditional move for the group: a payout changed under the worker throws, which rolls the whole
      // group back, nonces included; nothing of it was broadcast yet.
      await movePayoutGroup(trx, 'accepted', 'signed', moves, { sender }, now);
      await insertPayoutTxs(trx, txs);
    });
    for (const s of signed) {
      logger.info({ queueId: s.queueId, sender, nonce: s.nonce, txHash: s.hash }, 'payout signed');
      common.metrics.payoutTransition('accepted', 'signed');
    }
  }

  /** Resolves how many accepted payouts it took (`selected`) and how many it moved on (signed or failed). */
  async function signAccepted(head: number): Promise<{ selected: number; moved: number }> {
    const rows = await payoutsInState(db, chainName, 'accepted', tuning.batchSize, ctx.routes());
    if (rows.length === 0) return { selected: 0, moved: 0 };
    const fee = await fees(head);
    const chosen = await chooseSenders(rows, fee, head);
    const decided = await Promise.all(chosen.map((d) => (d.kind === 'pay' ? estimate(d) : d)));
    await failPayouts(decided.filter((d): d is Decision & { kind: 'fail' } => d.kind === 'fail'));
    const rerouted = await reroute(decided.filter((d) => d.kind === 'reroute'));
    // By sender, and apart by fee: a sweep is signed under its round's cap (or what its gas money pays
    // for), a withdrawal from the same wallet is not.
    const bySender = new Map<string, { sender: Hex; fee: Fees; group: (Decision & { kind: 'pay' })[] }>();
    const paying = decided.filter((d): d is Decision & { kind: 'pay' } => d.kind === 'pay');
    for (const d of await batches.gather(paying)) {
      const own = d.fee ?? feeOf(d.row, fee);
      const key = `${d.sender}:${own === fee ? 'payout' : maxGasPrice(own)}`;
      const entry = bySender.get(key) ?? { sender: d.sender, fee: own, group: [] };
      entry.group.push(d);
      bySender.set(key, entry);
    }
    let failedSenders = 0;
    let signed = 0;
    // Wallets side by side (each its own nonces, rows and lease), a wallet's groups one after the other:
    // with a node a round trip away, one wallet after another would make a pass as long as the wallets.
    const groupsOf = new Map<string, { sender: Hex; fee: Fees; group: (Decision & { kind: 'pay' })[] }[]>();
    for (const entry of bySender.values())
      groupsOf.set(entry.sender, [...(groupsOf.get(entry.sender) ?? []), entry]);
    const wallets = [...groupsOf.values()];
    for (let i = 0; i < wallets.length; i += WALLETS_AT_ONCE) {
      await Promise.all(
        wallets.slice(i, i + WALLETS_AT_ONCE).map(async (entries) => {
          for (const { sender, fee: groupFee, group } of entries) {
            // One wallet that cannot sign now (its node call failed, a row changed under us) must not hold
            // up the others: its payouts stay accepted for the next pass.
            try {
              await signForSender(sender, group, groupFee);
              signed += group.length;
            } catch (err) {
              failedSenders++;
              logger.warn(
                { err, sender, payouts: group.length },
                'signing for this wallet failed; retrying next pass',
              );
            }
          }
        }),
      );
    }
    if (failedSenders > 0 && failedSenders === bySender.size)
      throw new Error('signing failed for every wallet');
    const failedHere = decided.filter((d) => d.kind === 'fail').length;
    return { selected: rows.length, moved: signed + failedHere + rerouted };
  }

  return { signAccepted };
}
