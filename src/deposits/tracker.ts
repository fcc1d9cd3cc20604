import type { ChainContext } from '../chain/context.js';
import type { TransferLog } from '../chain/transfers.js';
import type { WatcherSink } from '../chain/watcher.js';
import { isNativeAddress } from '../config/chains.js';
import type { Common } from '../context/common.js';
import { topupResponse } from '../protocol/responses.js';
import { type AuditEntry, depositRef, recordAudit } from '../store/repos/audit.js';
import {
  depositsFromBlock,
  depositsOfTransactions,
  insertDeposits,
  moveDepositToBlock,
  orphanedDepositsBelow,
  orphanPendingFrom,
  pendingDepositsBelow,
  setDepositStatus,
} from '../store/repos/deposits.js';
import { enqueueOutbox } from '../store/repos/outbox.js';
import { treasuryTransactionsAmong } from '../store/repos/payouts.js';
import { watchedAmong } from '../store/repos/watched.js';
import type { Db, DepositRow, NewDeposit } from '../store/schema.js';

export interface DepositTrackerDeps {
  chain: ChainContext;
  /** The message-signing secret. */
  signKey: string;
  /** Called after a transaction that changed deposit states commits. */
  afterCommit?: () => void;
}

/**
 * Turns the watcher's transfers into deposits and their messages (PROTOCOL §7): `status 2` when a
 * transfer (a token's Transfer log, or a native-coin transaction) to a watched address is first seen in a block, `status 1` at `confirmHeight` confirmations,
 * `status 0` when a reorganisation removed it and it did not come back within `confirmHeight` blocks.
 * Every state change and its outbox row are written in the watcher's transaction.
 */
export function createDepositTracker(common: Common, deps: DepositTrackerDeps): WatcherSink {
  const { name: chain, confirmHeight } = deps.chain;
  const { topupResp } = common.config.rmq;
  const logger = common.logger.child({ component: 'deposits', chain });
  // The tokens and the native coin (at NATIVE_ADDRESS_LC): a native transfer is a TransferLog with no log.
  const tokenByAddress = new Map(deps.chain.assets.map((t) => [t.addressLc as string, t]));

  function message(row: Pick<DepositRow, keyof DepositRow>, status: 0 | 1 | 2) {
    const token = tokenByAddress.get(row.token_address);
    return {
      topic: 'topup',
      subject: `deposit:${depositRef(row.tx_hash, row.tx_log_ordinal)}`,
      exchange: topupResp.exchange,
      routingKey: topupResp.routing[0]!,
      body: topupResponse(
        {
          address: row.to_address,
          status,
          chain: row.chain,
          symbol: row.symbol,
          amountRaw: BigInt(row.amount_raw),
          decimals: token?.decimals ?? 0,
          txHash: row.tx_hash,
          // A native deposit has no log (its row holds -1): the answer leaves log_index out.
          logIndex: isNativeAddress(row.token_address) ? undefined : row.log_index,
          blockHeight: row.block_number,
          fromAddress: row.from_address,
        },
        deps.signKey,
      ),
    };
  }

  /** The transfers whose recipient is watched for that token. */
  async function matchWatched(trx: Db, transfers: TransferLog[]) {
    const candidates = transfers.filter((t) => tokenByAddress.has(t.tokenAddressLc));
    if (candidates.length === 0) return [];
    const recipientsBySymbol = new Map<string, Set<string>>();
    for (const t of candidates) {
      const symbol = tokenByAddress.get(t.tokenAddressLc)!.symbol;
      const set = recipientsBySymbol.get(symbol) ?? new Set<string>();
      recipientsBySymbol.set(symbol, set);
      set.add(t.toLc);
    }
    const watched = new Set<string>();
    for (const [symbol, set] of recipientsBySymbol) {
      for (const address of await watchedAmong(trx, chain, symbol, [...set]))
        watched.add(`${symbol}:${address}`);
    }
    const matched = candidates.filter((t) =>
      watched.has(`${tokenByAddress.get(t.tokenAddressLc)!.symbol}:${t.toLc}`),
    );
    if (matched.length === 0) return matched;
    // A gas top-up to a deposit wallet (or a sweep to a watched collection wallet) is the service moving its
    // own money: never a deposit, never answered.
    const own = await treasuryTransactionsAmong(trx, chain, [...new Set(matched.map((t) => t.txHash))]);
    return own.size === 0 ? matched : matched.filter((t) => !own.has(t.txHash));
  }

  /**
   * `deepest`: the highest block whose transfers are already final. A transfer found there (a backfill
   * after downtime) is stored confirmed at once, with its status 2 and status 1 messages in that order.
   */
  async function recordTransfers(trx: Db, transfers: TransferLog[], deepest: number, now: number) {
    const matched = await matchWatched(trx, transfers);
    if (matched.length === 0) return;
    const existing = await depositsOfTransactions(trx, chain, [...new Set(matched.map((t) => t.txHash))]);
    const fresh: NewDeposit[] = [];
    const audits: AuditEntry[] = [];
    let moved = 0;
    for (const t of matched) {
      const found = existing.get(`${t.txHash}:${t.txLogOrdinal}`);
      if (!found) fresh.push(newDeposit(t, deepest, now));
      else if (await followToNewBlock(trx, found, t, audits, now)) moved++;
    }
    for (const d of fresh) audits.push(...foundAudits(d));
    await recordAudit(trx, audits, now);
    if (moved) common.metrics.depositStatus('moved', moved);
    if (fresh.length) await storeFound(trx, fresh);
  }

  function newDeposit(t: TransferLog, deepest: number, now: number): NewDeposit {
    return {
      chain,
      symbol: tokenByAddress.get(t.tokenAddressLc)!.symbol,
      token_address: t.tokenAddressLc,
      tx_hash: t.txHash,
      tx_log_ordinal: t.txLogOrdinal,
      log_index: t.logIndex,
      block_number: t.blockNumber,
      block_hash: t.blockHash,
      from_address: t.fromLc,
      to_address: t.toLc,
      amount_raw: t.amountRaw.toString(),
      status: t.blockNumber <= deepest ? 'confirmed' : 'pending',
      orphaned_at: null,
      created_at: now,
      updated_at: now,
    };
  }

  /**
   * A known transfer seen in another block: re-included after a reorganisation (or moved), it is followed
   * to its new block with no new status 2. Resolves whether it moved.
   */
  async function followToNewBlock(
    trx: Db,
    found: DepositRow,
    t: TransferLog,
    audits: AuditEntry[],
    now: number,
  ) {
    if (found.block_hash === t.blockHash) return false;
    if (found.status === 'confirmed' || found.status === 'failed') {
      logger.error(
        { txHash: t.txHash, status: found.status, block: t.blockNumber },
        'a finished deposit was seen again in another block; its outcome was already reported',
      );
      return false;
    }
    const at = { log_index: t.logIndex, block_number: t.blockNumber, block_hash: t.blockHash };
    await moveDepositToBlock(trx, found.id, at, now);
    audits.push({
      subject: 'deposit',
      ref: depositRef(t.txHash, t.txLogOrdinal),
      txHash: t.txHash,
      fromState: found.status,
      toState: 'pending',
      blockNumber: t.blockNumber,
      detail: { reincluded: true, previousBlock: Number(found.block_number), blockHash: t.blockHash },
    });
    logger.info({ txHash: t.txHash, block: t.blockNumber }, 'deposit re-included in another block');
    return true;
  }

  /** The audit entries of a deposit seen for the first time: pending, and confirmed when already final. */
  function foundAudits(d: NewDeposit): AuditEntry[] {
    const ref = depositRef(d.tx_hash, d.tx_log_ordinal);
    const seen: AuditEntry = {
      subject: 'deposit',
      ref,
      txHash: d.tx_hash,
      toState: 'pending',
      blockNumber: d.block_number,
      detail: { to: d.to_address, from: d.from_address, symbol: d.symbol, amountRaw: d.amount_raw },
    };
    if (d.status !== 'confirmed') return [seen];
    const final: AuditEntry = { ...seen, fromState: 'pending', toState: 'confirmed', detail: null };
    return [seen, final];
  }

  /** Stores new deposits with their status 2 (and status 1 when already final) messages, in that order. */
  async function storeFound(trx: Db, fresh: NewDeposit[]) {
    await insertDeposits(trx, fresh);
    const rows = fresh.map((d) => ({ ...d, id: 0, orphaned_at: null }) as DepositRow);
    const final = rows.filter((d) => d.status === 'confirmed');
    await enqueueOutbox(trx, [...rows.map((d) => message(d, 2)), ...final.map((d) => message(d, 1))]);
    // A backfill can find thousands at once: one line for the batch, the details at debug level.
    const detailLevel = rows.length > 50 ? 'debug' : 'info';
    for (const d of rows) {
      logger[detailLevel](
        { txHash: d.tx_hash, address: d.to_address, amountRaw: d.amount_raw, block: d.block_number },
        d.status === 'confirmed'
          ? 'deposit seen and already final (status 2, status 1)'
          : 'deposit seen (status 2)',
      );
    }
    if (detailLevel === 'debug') logger.info({ count: rows.length, final: final.length }, 'deposits found');
    common.metrics.depositStatus('pending', rows.length);
    if (final.length) common.metrics.depositStatus('confirmed', final.length);
  }

  /** Pending deposits deep enough become confirmed; orphaned ones gone long enough become failed. */
  async function settle(trx: Db, tipNumber: number, now: number) {
    const deepest = tipNumber - confirmHeight + 1;
    const confirmed = await pendingDepositsBelow(trx, chain, deepest);
    const failed = await orphanedDepositsBelow(trx, chain, deepest);
    for (const [rows, status, code] of [
      [confirmed, 'confirmed', 1],
      [failed, 'failed', 0],
    ] as const) {
      if (rows.length === 0) continue;
      await setDepositStatus(
        trx,
        rows.map((r) => r.id),
        status,
        now,
      );
      await enqueueOutbox(
        trx,
        rows.map((r) => message(r, code)),
      );
      await recordAudit(
        trx,
        rows.map((r) => ({
          subject: 'deposit',
          ref: depositRef(r.tx_hash, r.tx_log_ordinal),
          txHash: r.tx_hash,
          fromState: r.status,
          toState: status,
          blockNumber: r.block_number,
          detail: status === 'failed' ? { orphanedAt: r.orphaned_at, notFoundBy: tipNumber } : null,
        })),
        now,
      );
      const level = rows.length > 50 ? 'debug' : 'info';
      for (const r of rows) {
        logger[level](
          { txHash: r.tx_hash, address: r.to_address, block: r.block_number },
          `deposit ${status}`,
        );
      }
      if (level === 'debug') logger.info({ count: rows.length }, `deposits ${status}`);
      common.metrics.depositStatus(status, rows.length);
    }
  }

  return {
    async onBlocks(trx, transfers, tipNumber) {
      const now = Date.now();
      await recordTransfers(trx, transfers, tipNumber - confirmHeight + 1, now);
      await settle(trx, tipNumber, now);
    },
    async onReorg(trx, firstRemoved) {
      const now = Date.now();
      const lostConfirmed = await depositsFromBlock(trx, chain, 'confirmed', firstRemoved);
      for (const r of lostConfirmed) {
        logger.error(
          { txHash: r.tx_hash, block: r.block_number },
          'a confirmed deposit was removed by a reorganisation deeper than confirmHeight',
        );
      }
      // The rows the update below changes (the watcher is the only writer of deposits), for the audit log.
      const orphaning = await depositsFromBlock(trx, chain, 'pending', firstRemoved);
      const n = await orphanPendingFrom(trx, chain, firstRemoved, now);
      await recordAudit(
        trx,
        orphaning.map((r) => ({
          subject: 'deposit',
          ref: depositRef(r.tx_hash, r.tx_log_ordinal),
          txHash: r.tx_hash,
          fromState: 'pending',
          toState: 'orphaned',
          blockNumber: r.block_number,
          detail: { reorgFrom: firstRemoved },
        })),
        now,
      );
      if (n > 0) logger.warn({ count: n, firstRemoved }, 'deposits orphaned by a reorganisation');
    },
    afterCommit: deps.afterCommit,
  };
}
