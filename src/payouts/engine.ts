import type { Kysely } from 'kysely';
import { type Hex, keccak256, type PublicClient, type TransactionSerializable } from 'viem';
import { type AuditEntry, recordAudit } from '../audit/record.js';
import type { Config } from '../config/types.js';
import { errorMessage, sleep } from '../internal/errors.js';
import type { Logger } from '../internal/logger.js';
import { enqueueOutbox, type OutboxMessage } from '../outbox/enqueue.js';
import type { ErrorCode } from '../protocol/errors.js';
import { driverOf } from '../store/dialect.js';
import type { Database, PayoutRow, PayoutTxRow } from '../store/schema.js';
import type { Vault } from '../vault/vault.js';
import { broadcast, getReceipt, isRevert, type RawReceipt, tokenBalance, transferCalldata } from './chain.js';
import { bumpFees, type Fees, maxGasPrice, suggestFees } from './fees.js';
import { allocateNonces } from './nonces.js';
import { failure, payoutResponse } from './respond.js';

export interface PayoutTuning {
  /** Accepted payouts taken per pass. */
  batchSize: number;
  /** Gas limit = estimate × (100 + margin) / 100. */
  gasMarginPct: number;
  /** Gas assumed for the funds check before the estimate is known. */
  gasGuess: bigint;
  /** Pass interval when nothing wakes the worker (ms). */
  pollMs: number;
}

/** Signed transactions per insert: 9 columns a row, well under SQLite's and MySQL's placeholder limits. */
const TX_ROWS_PER_INSERT = 500;

const defaultTuning: PayoutTuning = { batchSize: 200, gasMarginPct: 20, gasGuess: 100_000n, pollMs: 1_000 };

export interface CreatePayoutEngineOptions {
  logger: Logger;
  db: Kysely<Database>;
  client: PublicClient;
  config: Config;
  chainId: number;
  signKey: string;
  vault: Pick<Vault, 'has' | 'signTransaction'>;
  /** After a commit that wrote responses (wake the outbox relay). */
  afterCommit?: () => void;
  onTransition?: (from: string, to: string, row: Pick<PayoutRow, 'queue_id'>) => void;
  tuning?: Partial<PayoutTuning>;
}

type Decision =
  | { row: PayoutRow; kind: 'pay'; sender: Hex; gas?: bigint }
  | { row: PayoutRow; kind: 'fail'; code: ErrorCode; message: string }
  | { row: PayoutRow; kind: 'later' };

export type PayoutEngine = ReturnType<typeof createPayoutEngine>;

/**
 * Moves payouts through `accepted → signed → sent → mined → confirmed` (or `failed`), committing each
 * state before the side effect that follows it: the signed transaction is stored before it is broadcast,
 * and the response is written with the final state. One worker per database.
 */
export function createPayoutEngine(options: CreatePayoutEngineOptions) {
  const { db, client, config, chainId, signKey, vault } = options;
  const logger = options.logger.child({ component: 'payouts' });
  const tuning = { ...defaultTuning, ...options.tuning };
  const { confirmHeight, maxFeePerGasWei: feeCap, replaceAfterBlocks, collectionAddressLc } = config.chain;
  const stop = new AbortController();
  let wake: (() => void) | undefined;
  let wakePending = false;
  let loop: Promise<void> | undefined;
  let feeCache: { head: number; fees: Fees } | undefined;
  let lastTrackedHead = -1;
  let recovered = false;

  /** Wake now; `recheck` looks at the receipts again even at the same head (a reorganisation replaced blocks). */
  function poke(recheck = false) {
    if (recheck) lastTrackedHead = -1;
    wakePending = true;
    wake?.();
  }

  async function fees(head: number): Promise<Fees> {
    if (feeCache?.head === head) return feeCache.fees;
    const suggested = await suggestFees(client, feeCap);
    feeCache = { head, fees: suggested };
    return suggested;
  }

  // ---- accepted → signed (or failed) -------------------------------------------------------------

  /** Token and native money each candidate wallet can still spend: on-chain balance less what is in flight. */
  async function spendable(addresses: Hex[], tokens: Hex[], price: bigint) {
    const inFlight = await db
      .selectFrom('payouts')
      .select(['sender', 'token_address', 'amount_raw', 'gas_limit'])
      .where('state', 'in', ['signed', 'sent'])
      .where('sender', 'in', addresses.length ? addresses : ['-'])
      .execute();
    const result = new Map<string, { native: bigint; token: Map<string, bigint> }>();
    await Promise.all(
      addresses.map(async (address) => {
        const [native, ...balances] = await Promise.all([
          client.getBalance({ address }),
          ...tokens.map((t) => tokenBalance(client, t, address)),
        ]);
        result.set(address, { native, token: new Map(tokens.map((t, i) => [t as string, balances[i]!])) });
      }),
    );
    for (const p of inFlight) {
      const funds = result.get(p.sender!);
      if (!funds) continue;
      funds.native -= BigInt(p.gas_limit ?? '0') * price;
      funds.token.set(p.token_address, (funds.token.get(p.token_address) ?? 0n) - BigInt(p.amount_raw));
    }
    return result;
  }

  /** PROTOCOL §5: the requested wallet if the vault holds it and it can pay token and gas, else the collection wallet. */
  async function chooseSenders(rows: PayoutRow[], price: bigint): Promise<Decision[]> {
    const held = new Map<string, boolean>();
    const candidatesOf = async (row: PayoutRow) => {
      const list = [row.from_address, collectionAddressLc].filter((a): a is string => Boolean(a));
      const out: Hex[] = [];
      for (const a of new Set(list)) {
        if (!held.has(a)) held.set(a, await vault.has(a));
        if (held.get(a)) out.push(a as Hex);
      }
      return out;
    };
    const candidates = await Promise.all(rows.map(candidatesOf));
    const addresses = [...new Set(candidates.flat())];
    const tokens = [...new Set(rows.map((r) => r.token_address as Hex))];
    const funds = await spendable(addresses, tokens, price);
    const gasCost = tuning.gasGuess * price;
    return rows.map((row, i) => {
      const amount = BigInt(row.amount_raw);
      for (const sender of candidates[i]!) {
        const f = funds.get(sender)!;
        const tokenLeft = f.token.get(row.token_address) ?? 0n;
        if (tokenLeft >= amount && f.native >= gasCost) {
          f.token.set(row.token_address, tokenLeft - amount);
          f.native -= gasCost;
          return { row, kind: 'pay', sender };
        }
      }
      const where = candidates[i]!.length ? candidates[i]!.join(' or ') : 'no wallet the vault holds';
      return {
        row,
        kind: 'fail',
        code: 'insufficient_funds',
        message: `not enough token or gas in ${where}`,
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
      const gas = await client.estimateGas({
        account: sender,
        to: row.token_address as Hex,
        data: transferCalldata(row.to_address as Hex, BigInt(row.amount_raw)),
        blockTag: 'latest',
      });
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
      logger.warn({ queueId: row.queue_id, err: errorMessage(err) }, 'gas estimate failed; retrying later');
      return { row, kind: 'later' };
    }
  }

  async function failPayouts(decisions: (Decision & { kind: 'fail' })[]) {
    if (decisions.length === 0) return;
    const now = Date.now();
    await db.transaction().execute(async (trx) => {
      const messages: OutboxMessage[] = [];
      const audits: AuditEntry[] = [];
      for (const d of decisions) {
        const updated = await trx
          .updateTable('payouts')
          .set({
            state: 'failed',
            error_code: d.code,
            error_message: d.message.slice(0, 1000),
            updated_at: now,
          })
          .where('queue_id', '=', d.row.queue_id)
          .where('state', '=', d.row.state)
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 1) {
          messages.push(
            payoutResponse(config.rmq, signKey, { ...d.row, sender: null }, failure(d.code, d.message)),
          );
          audits.push({
            subject: 'payout',
            ref: d.row.queue_id,
            fromState: d.row.state,
            toState: 'failed',
            detail: { error: d.code, message: d.message },
          });
        }
      }
      await enqueueOutbox(trx, messages);
      await recordAudit(trx, audits, now);
    });
    for (const d of decisions) {
      logger.warn({ queueId: d.row.queue_id, code: d.code, reason: d.message }, `${d.row.kind} failed`);
      options.onTransition?.(d.row.state, 'failed', d.row);
    }
    options.afterCommit?.();
  }

  function txFields(
    fee: Fees,
  ): Pick<PayoutTxRow, 'max_fee_per_gas' | 'max_priority_fee_per_gas' | 'gas_price'> {
    return fee.type === 'legacy'
      ? { max_fee_per_gas: null, max_priority_fee_per_gas: null, gas_price: fee.gasPrice.toString() }
      : {
          max_fee_per_gas: fee.maxFeePerGas.toString(),
          max_priority_fee_per_gas: fee.maxPriorityFeePerGas.toString(),
          gas_price: null,
        };
  }

  /** The fee fields of a signed transaction, for its audit entry. */
  function feeDetail(fee: Fees) {
    return fee.type === 'legacy'
      ? { gasPrice: fee.gasPrice.toString() }
      : {
          maxFeePerGas: fee.maxFeePerGas.toString(),
          maxPriorityFeePerGas: fee.maxPriorityFeePerGas.toString(),
        };
  }

  function serializable(
    row: Pick<PayoutRow, 'token_address' | 'to_address' | 'amount_raw'>,
    nonce: number,
    gas: bigint,
    fee: Fees,
  ): TransactionSerializable {
    const base = {
      chainId,
      to: row.token_address as Hex,
      data: transferCalldata(row.to_address as Hex, BigInt(row.amount_raw)),
      nonce,
      gas,
      value: 0n,
    };
    return fee.type === 'legacy'
      ? { ...base, type: 'legacy', gasPrice: fee.gasPrice }
      : {
          ...base,
          type: 'eip1559',
          maxFeePerGas: fee.maxFeePerGas,
          maxPriorityFeePerGas: fee.maxPriorityFeePerGas,
        };
  }

  /** Nonces for one sender's payouts, signed and stored in one transaction with the state change. */
  async function signForSender(sender: Hex, group: (Decision & { kind: 'pay' })[], fee: Fees) {
    const chainNonce = await client.getTransactionCount({ address: sender, blockTag: 'latest' });
    // Loads the sender's encrypted key now: inside the transaction below, signing must not query the database.
    if (!(await vault.has(sender))) throw new Error(`the vault lost the key of ${sender}`);
    const now = Date.now();
    const signed: { queueId: string; hash: Hex; nonce: number }[] = [];
    await db.transaction().execute(async (trx) => {
      const { first, repairedFrom } = await allocateNonces(trx, sender, group.length, chainNonce);
      if (repairedFrom !== undefined) {
        logger.warn(
          { sender, counter: repairedFrom, next: first, chainNonce },
          'nonce counter disagreed with the chain and our transactions; repaired',
        );
      }
      const txs: PayoutTxRow[] = [];
      for (const [i, d] of group.entries()) {
        const nonce = first + i;
        const raw = await vault.signTransaction(sender, serializable(d.row, nonce, d.gas!, fee));
        const hash = keccak256(raw);
        txs.push({
          tx_hash: hash,
          queue_id: d.row.queue_id,
          sender,
          nonce,
          raw_tx: raw,
          ...txFields(fee),
          created_at: now,
        });
        const updated = await trx
          .updateTable('payouts')
          .set({
            state: 'signed',
            sender,
            nonce,
            gas_limit: d.gas!.toString(),
            tx_hash: hash,
            updated_at: now,
          })
          .where('queue_id', '=', d.row.queue_id)
          .where('state', '=', 'accepted')
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) !== 1)
          throw new Error(`payout ${d.row.queue_id} changed under the worker`);
        signed.push({ queueId: d.row.queue_id, hash, nonce });
      }
      // One statement per TX_ROWS_PER_INSERT signed transactions instead of one each.
      for (let i = 0; i < txs.length; i += TX_ROWS_PER_INSERT) {
        await trx
          .insertInto('payout_txs')
          .values(txs.slice(i, i + TX_ROWS_PER_INSERT))
          .execute();
      }
      await recordAudit(
        trx,
        group.map((d, i) => ({
          subject: 'payout',
          ref: d.row.queue_id,
          txHash: signed[i]!.hash,
          fromState: 'accepted',
          toState: 'signed',
          detail: { sender, nonce: signed[i]!.nonce, gas: d.gas!.toString(), ...feeDetail(fee) },
        })),
        now,
      );
    });
    for (const s of signed) {
      logger.info({ queueId: s.queueId, sender, nonce: s.nonce, txHash: s.hash }, 'payout signed');
      options.onTransition?.('accepted', 'signed', { queue_id: s.queueId });
    }
  }

  async function signAccepted(head: number): Promise<number> {
    const rows = await db
      .selectFrom('payouts')
      .selectAll()
      .where('state', '=', 'accepted')
      .orderBy('created_at')
      .orderBy('queue_id')
      .limit(tuning.batchSize)
      .execute();
    if (rows.length === 0) return 0;
    const fee = await fees(head);
    const chosen = await chooseSenders(rows, maxGasPrice(fee));
    const decided = await Promise.all(chosen.map((d) => (d.kind === 'pay' ? estimate(d) : d)));
    await failPayouts(decided.filter((d): d is Decision & { kind: 'fail' } => d.kind === 'fail'));
    const bySender = new Map<Hex, (Decision & { kind: 'pay' })[]>();
    for (const d of decided) {
      if (d.kind !== 'pay') continue;
      bySender.set(d.sender, [...(bySender.get(d.sender) ?? []), d]);
    }
    for (const [sender, group] of bySender) await signForSender(sender, group, fee);
    return rows.length;
  }

  // ---- signed → sent ----------------------------------------------------------------------------

  async function broadcastRows(rows: Pick<PayoutRow, 'queue_id' | 'tx_hash' | 'state'>[], head: number) {
    if (rows.length === 0) return;
    const txs = await db
      .selectFrom('payout_txs')
      .select(['tx_hash', 'raw_tx', 'sender', 'nonce'])
      .where(
        'tx_hash',
        'in',
        rows.map((r) => r.tx_hash!),
      )
      .orderBy('sender')
      .orderBy('nonce')
      .execute();
    const raws = new Map(txs.map((t) => [t.tx_hash, t.raw_tx as Hex]));
    // Lower nonces first, so a node that refuses a nonce gap still takes them all.
    const position = new Map(txs.map((t, i) => [t.tx_hash, i]));
    const at = (hash: string | null) => position.get(hash!) ?? -1;
    const ordered = [...rows].sort((a, b) => at(a.tx_hash) - at(b.tx_hash));
    const outcomes = await Promise.all(ordered.map((r) => broadcast(client, raws.get(r.tx_hash!)!)));
    const now = Date.now();
    const sent: string[] = [];
    for (const [i, outcome] of outcomes.entries()) {
      const row = ordered[i]!;
      if (outcome.kind === 'retry') {
        logger.warn(
          { queueId: row.queue_id, txHash: row.tx_hash, reason: outcome.reason },
          'broadcast failed; will send the stored transaction again',
        );
        continue;
      }
      if (row.state === 'signed') sent.push(row.queue_id);
    }
    const hashOf = new Map(rows.map((r) => [r.queue_id, r.tx_hash]));
    const moved: string[] = [];
    for (let i = 0; i < sent.length; i += 500) {
      const chunk = sent.slice(i, i + 500);
      await db.transaction().execute(async (trx) => {
        // The rows still `signed`, locked on MySQL until the update: exactly those get an audit entry.
        const select = trx
          .selectFrom('payouts')
          .select('queue_id')
          .where('queue_id', 'in', chunk)
          .where('state', '=', 'signed');
        const still = (await (driverOf(trx) === 'mysql' ? select.forUpdate() : select).execute()).map(
          (r) => r.queue_id,
        );
        if (still.length === 0) return;
        await trx
          .updateTable('payouts')
          .set({ state: 'sent', last_sent_block: head, updated_at: now })
          .where('queue_id', 'in', still)
          .where('state', '=', 'signed')
          .execute();
        await recordAudit(
          trx,
          still.map((queueId) => ({
            subject: 'payout',
            ref: queueId,
            txHash: hashOf.get(queueId) ?? null,
            fromState: 'signed',
            toState: 'sent',
            blockNumber: head,
          })),
          now,
        );
        moved.push(...still);
      });
    }
    for (const queueId of moved) options.onTransition?.('signed', 'sent', { queue_id: queueId });
  }

  async function broadcastSigned(head: number) {
    const rows = await db
      .selectFrom('payouts')
      .select(['queue_id', 'tx_hash', 'state'])
      .where('state', '=', 'signed')
      .orderBy('created_at')
      .limit(1_000)
      .execute();
    await broadcastRows(rows, head);
  }

  // ---- sent → mined → confirmed, replacements, reorgs ---------------------------------------------

  function minedAudit(
    row: PayoutRow,
    mined: Pick<PayoutRow, 'tx_hash' | 'mined_block' | 'mined_block_hash' | 'fee_wei' | 'reverted'>,
    toState: 'mined' | 'confirmed' | 'failed',
  ): AuditEntry {
    return {
      subject: 'payout',
      ref: row.queue_id,
      txHash: mined.tx_hash,
      fromState: row.state,
      toState,
      blockNumber: mined.mined_block,
      detail: {
        blockHash: mined.mined_block_hash,
        feeWei: mined.fee_wei,
        reverted: mined.reverted === 1,
        ...(toState === 'failed' ? { error: 'reverted' } : {}),
      },
    };
  }

  async function settle(row: PayoutRow, receipt: RawReceipt, head: number) {
    const minedBlock = Number(BigInt(receipt.blockNumber));
    const fee = BigInt(receipt.gasUsed) * BigInt(receipt.effectiveGasPrice ?? '0x0');
    const reverted = BigInt(receipt.status) === 0n;
    const mined = {
      tx_hash: receipt.transactionHash.toLowerCase(),
      mined_block: minedBlock,
      mined_block_hash: receipt.blockHash.toLowerCase(),
      fee_wei: fee.toString(),
      reverted: reverted ? 1 : 0,
    };
    const final = head - minedBlock + 1 >= confirmHeight;
    const now = Date.now();
    if (!final) {
      if (row.state === 'mined' && row.mined_block_hash === mined.mined_block_hash) return;
      await db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable('payouts')
          .set({ state: 'mined', ...mined, updated_at: now })
          .where('queue_id', '=', row.queue_id)
          .where('state', '=', row.state)
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) !== 1) return;
        // mined → mined: the same transaction found in another block after a reorganisation.
        await recordAudit(trx, [minedAudit(row, mined, 'mined')], now);
      });
      if (row.state !== 'mined') {
        logger.info(
          { queueId: row.queue_id, txHash: mined.tx_hash, block: minedBlock, reverted },
          'payout mined',
        );
        options.onTransition?.(row.state, 'mined', row);
      }
      return;
    }
    const state = reverted ? 'failed' : 'confirmed';
    const outcome = reverted
      ? failure('reverted', `transaction ${mined.tx_hash} reverted in block ${minedBlock}`)
      : ({ status: 1 } as const);
    await db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('payouts')
        .set({
          state,
          ...mined,
          ...(reverted
            ? { error_code: 'reverted', error_message: outcome.status === 0 ? outcome.errorMessage : null }
            : {}),
          updated_at: now,
        })
        .where('queue_id', '=', row.queue_id)
        .where('state', '=', row.state)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1) return;
      await enqueueOutbox(trx, [payoutResponse(config.rmq, signKey, { ...row, ...mined }, outcome)]);
      await recordAudit(trx, [minedAudit(row, mined, state)], now);
    });
    logger.info(
      { queueId: row.queue_id, txHash: mined.tx_hash, block: minedBlock, fee: fee.toString() },
      `payout ${state}`,
    );
    options.onTransition?.(row.state, state, row);
    options.afterCommit?.();
  }

  /** Not mined in time: the same nonce again with both fee fields raised, stored before it is sent. */
  async function replace(row: PayoutRow, latest: PayoutTxRow, head: number) {
    const old: Fees = latest.gas_price
      ? { type: 'legacy', gasPrice: BigInt(latest.gas_price) }
      : {
          type: 'eip1559',
          maxFeePerGas: BigInt(latest.max_fee_per_gas ?? '0'),
          maxPriorityFeePerGas: BigInt(latest.max_priority_fee_per_gas ?? '0'),
        };
    const bumped = bumpFees(old, await fees(head), feeCap);
    if (!bumped) {
      logger.warn(
        { queueId: row.queue_id, txHash: row.tx_hash },
        'payout not mined and its fees are at the cap; sending it again',
      );
      await broadcast(client, latest.raw_tx as Hex);
      await db
        .updateTable('payouts')
        .set({ last_sent_block: head })
        .where('queue_id', '=', row.queue_id)
        .execute();
      return;
    }
    const raw = await vault.signTransaction(
      row.sender!,
      serializable(row, Number(row.nonce), BigInt(row.gas_limit!), bumped),
    );
    const hash = keccak256(raw);
    const now = Date.now();
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto('payout_txs')
        .values({
          tx_hash: hash,
          queue_id: row.queue_id,
          sender: row.sender!,
          nonce: Number(row.nonce),
          raw_tx: raw,
          ...txFields(bumped),
          created_at: now,
        })
        .execute();
      const updated = await trx
        .updateTable('payouts')
        .set({ tx_hash: hash, last_sent_block: head, updated_at: now })
        .where('queue_id', '=', row.queue_id)
        .where('state', '=', 'sent')
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1) return;
      // `replaced` is an event, not a state: the payout stays `sent`, now with the new hash.
      await recordAudit(
        trx,
        [
          {
            subject: 'payout',
            ref: row.queue_id,
            txHash: hash,
            fromState: 'sent',
            toState: 'replaced',
            blockNumber: head,
            detail: { replaces: row.tx_hash, nonce: Number(row.nonce), ...feeDetail(bumped) },
          },
        ],
        now,
      );
    });
    const outcome = await broadcast(client, raw);
    logger.warn(
      {
        queueId: row.queue_id,
        oldTxHash: row.tx_hash,
        txHash: hash,
        nonce: row.nonce,
        broadcast: outcome.kind,
        ...txFields(bumped),
      },
      'payout replaced with higher fees',
    );
    options.onTransition?.('sent', 'replaced', row);
  }

  async function track(head: number) {
    const rows = await db.selectFrom('payouts').selectAll().where('state', 'in', ['sent', 'mined']).execute();
    if (rows.length === 0) return;
    const sentIds = rows.filter((r) => r.state === 'sent').map((r) => r.queue_id);
    const txs: PayoutTxRow[] = [];
    for (let i = 0; i < sentIds.length; i += 500) {
      txs.push(
        ...(await db
          .selectFrom('payout_txs')
          .selectAll()
          .where('queue_id', 'in', sentIds.slice(i, i + 500))
          .execute()),
      );
    }
    const txsOf = new Map<string, PayoutTxRow[]>();
    for (const t of txs) txsOf.set(t.queue_id, [...(txsOf.get(t.queue_id) ?? []), t]);
    // Every hash ever sent for a nonce: a replacement, or the first one, may be the one mined.
    const hashes = [
      ...new Set([
        ...txs.map((t) => t.tx_hash),
        ...rows.filter((r) => r.state === 'mined').map((r) => r.tx_hash!),
      ]),
    ];
    const found = await Promise.all(hashes.map((h) => getReceipt(client, h)));
    const receipts = new Map(hashes.map((h, i) => [h, found[i] ?? null]));

    const reorged: PayoutRow[] = [];
    for (const row of rows) {
      const candidates =
        row.state === 'mined' ? [row.tx_hash!] : (txsOf.get(row.queue_id) ?? []).map((t) => t.tx_hash);
      const receipt = candidates.map((h) => receipts.get(h)).find((r): r is RawReceipt => Boolean(r));
      if (receipt) {
        await settle(row, receipt, head);
        continue;
      }
      if (row.state === 'mined') {
        reorged.push(row);
        continue;
      }
      if (head - Number(row.last_sent_block ?? head) >= replaceAfterBlocks) {
        if (await nonceTakenByOthers(row, head)) {
          await requeue(row);
          continue;
        }
        const latest = (txsOf.get(row.queue_id) ?? []).find((t) => t.tx_hash === row.tx_hash);
        if (latest) await replace(row, latest, head);
      }
    }
    if (reorged.length) await followReorged(reorged, head);
  }

  /**
   * Whether the payout's nonce was used by a transaction that is not ours, in a block already
   * `confirmHeight` deep: then none of our transactions for it can ever be mined.
   */
  async function nonceTakenByOthers(row: PayoutRow, head: number): Promise<boolean> {
    const finalBlock = head - confirmHeight + 1;
    if (finalBlock < 0 || row.nonce === null) return false;
    const finalCount = await client.getTransactionCount({
      address: row.sender as Hex,
      blockNumber: BigInt(finalBlock),
    });
    return finalCount > Number(row.nonce);
  }

  /** Back to `accepted` after its nonce went to another transaction: it is paid anew, nothing was sent. */
  async function requeue(row: PayoutRow) {
    const now = Date.now();
    await db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('payouts')
        .set({
          state: 'accepted',
          sender: null,
          nonce: null,
          gas_limit: null,
          tx_hash: null,
          last_sent_block: null,
          updated_at: now,
        })
        .where('queue_id', '=', row.queue_id)
        .where('state', '=', 'sent')
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1) return;
      await recordAudit(
        trx,
        [
          {
            subject: 'payout',
            ref: row.queue_id,
            txHash: row.tx_hash,
            fromState: 'sent',
            toState: 'accepted',
            detail: { nonceTakenByOthers: true, sender: row.sender, nonce: Number(row.nonce) },
          },
        ],
        now,
      );
    });
    logger.error(
      { queueId: row.queue_id, sender: row.sender, nonce: row.nonce },
      'the nonce of this payout was used by a transaction that is not ours; paying it again with a new nonce',
    );
    options.onTransition?.('sent', 'accepted', row);
    poke();
  }

  /** A mined payout whose block left the canonical chain: back to `sent`, and its transaction sent again. */
  async function followReorged(rows: PayoutRow[], head: number) {
    const now = Date.now();
    for (const row of rows) {
      await db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable('payouts')
          .set({
            state: 'sent',
            mined_block: null,
            mined_block_hash: null,
            fee_wei: null,
            reverted: 0,
            last_sent_block: head,
            updated_at: now,
          })
          .where('queue_id', '=', row.queue_id)
          .where('state', '=', 'mined')
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) !== 1) return;
        await recordAudit(
          trx,
          [
            {
              subject: 'payout',
              ref: row.queue_id,
              txHash: row.tx_hash,
              fromState: 'mined',
              toState: 'sent',
              blockNumber: row.mined_block,
              detail: { reorg: 'its block left the canonical chain', blockHash: row.mined_block_hash, head },
            },
          ],
          now,
        );
      });
      logger.warn(
        { queueId: row.queue_id, txHash: row.tx_hash, block: row.mined_block },
        'mined payout removed by a reorganisation; sending it again',
      );
      options.onTransition?.('mined', 'sent', row);
    }
    await broadcastRows(
      rows.map((r) => ({ ...r, state: 'sent' as const })),
      head,
    );
  }

  /** After a restart: everything in flight is sent again from the stored transactions (never signed anew). */
  async function recover(head: number) {
    const rows = await db
      .selectFrom('payouts')
      .select(['queue_id', 'tx_hash', 'state'])
      .where('state', '=', 'sent')
      .execute();
    if (rows.length) logger.info({ count: rows.length }, 'sending in-flight payouts again after start');
    await broadcastRows(rows, head);
  }

  async function pass() {
    const head = Number(await client.getBlockNumber({ cacheTime: 0 }));
    if (!recovered) {
      await recover(head);
      recovered = true;
    }
    while ((await signAccepted(head)) >= tuning.batchSize && !stop.signal.aborted) {
      await broadcastSigned(head);
    }
    await broadcastSigned(head);
    if (head !== lastTrackedHead) {
      await track(head);
      lastTrackedHead = head;
    }
  }

  async function run() {
    let failures = 0;
    while (!stop.signal.aborted) {
      try {
        await pass();
        failures = 0;
      } catch (err) {
        failures++;
        logger.warn({ err: errorMessage(err), failures }, 'payout pass failed; retrying');
        await sleep(Math.min(250 * 2 ** Math.min(failures, 6), 10_000), stop.signal);
        continue;
      }
      if (wakePending) {
        wakePending = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, tuning.pollMs);
        wake = done;
        stop.signal.addEventListener('abort', done, { once: true });
        function done() {
          clearTimeout(timer);
          stop.signal.removeEventListener('abort', done);
          wake = undefined;
          resolve();
        }
      });
      wakePending = false;
    }
  }

  return {
    start() {
      loop = run();
    },
    /** Finishes the pass in progress, then stops. */
    async stop() {
      stop.abort();
      await loop;
    },
    /** Wake now: a request was accepted, or a block arrived. */
    poke,
  };
}
