import type { Transaction } from 'kysely';
import { type AuditEntry, depositRef, recordAudit } from '../audit/record.js';
import type { TransferLog } from '../chain/transfers.js';
import type { WatcherSink } from '../chain/watcher.js';
import type { QueueConfig, TokenConfig } from '../config/types.js';
import type { Logger } from '../internal/logger.js';
import { enqueueOutbox } from '../outbox/enqueue.js';
import { topupResponse } from '../protocol/responses.js';
import type { Database, DepositRow, NewDeposit } from '../store/schema.js';

export interface CreateDepositTrackerOptions {
  logger: Logger;
  chain: string;
  tokens: TokenConfig[];
  confirmHeight: number;
  topupResp: QueueConfig;
  signKey: string;
  /** Called after a transaction that changed deposit states commits. */
  afterCommit?: () => void;
  onStatus?: (status: 'pending' | 'confirmed' | 'failed' | 'moved', count: number) => void;
}

/** Rows per multi-row statement: well under MySQL's and SQLite's placeholder limits. */
const BATCH = 500;

/**
 * Turns the watcher's transfers into deposits and their messages (PROTOCOL §5): `status 2` when a
 * transfer to a watched address is first seen in a block, `status 1` at `confirmHeight` confirmations,
 * `status 0` when a reorganisation removed it and it did not come back within `confirmHeight` blocks.
 * Every state change and its outbox row are written in the watcher's transaction.
 */
export function createDepositTracker(options: CreateDepositTrackerOptions): WatcherSink {
  const { chain, confirmHeight } = options;
  const logger = options.logger.child({ component: 'deposits' });
  const tokenByAddress = new Map(options.tokens.map((t) => [t.addressLc as string, t]));

  function message(row: Pick<DepositRow, keyof DepositRow>, status: 0 | 1 | 2) {
    const token = tokenByAddress.get(row.token_address);
    return {
      topic: 'topup',
      exchange: options.topupResp.exchange,
      routingKey: options.topupResp.routing[0]!,
      body: topupResponse(
        {
          address: row.to_address,
          status,
          chain: row.chain,
          symbol: row.symbol,
          amountRaw: BigInt(row.amount_raw),
          decimals: token?.decimals ?? 0,
          txHash: row.tx_hash,
          logIndex: row.log_index,
          blockHeight: row.block_number,
          fromAddress: row.from_address,
        },
        options.signKey,
      ),
    };
  }

  /** The transfers whose recipient is watched for that token. */
  async function matchWatched(trx: Transaction<Database>, transfers: TransferLog[]) {
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
    // By the whole primary key (chain, symbol, address): without `symbol` the index only narrows to the
    // chain and each query scans every watched address of it (seconds per query at a million).
    for (const [symbol, set] of recipientsBySymbol) {
      const recipients = [...set];
      for (let i = 0; i < recipients.length; i += BATCH) {
        const rows = await trx
          .selectFrom('watched_addresses')
          .select('address')
          .where('chain', '=', chain)
          .where('symbol', '=', symbol)
          .where('address', 'in', recipients.slice(i, i + BATCH))
          .execute();
        for (const r of rows) watched.add(`${symbol}:${r.address}`);
      }
    }
    return candidates.filter((t) => watched.has(`${tokenByAddress.get(t.tokenAddressLc)!.symbol}:${t.toLc}`));
  }

  /**
   * `deepest`: the highest block whose transfers are already final. A transfer found there (a backfill
   * after downtime) is stored confirmed at once, with its status 2 and status 1 messages in that order.
   */
  async function recordTransfers(
    trx: Transaction<Database>,
    transfers: TransferLog[],
    deepest: number,
    now: number,
  ) {
    const matched = await matchWatched(trx, transfers);
    if (matched.length === 0) return;
    const existing = new Map<string, DepositRow>();
    const hashes = [...new Set(matched.map((t) => t.txHash))];
    for (let i = 0; i < hashes.length; i += BATCH) {
      const rows = await trx
        .selectFrom('deposits')
        .selectAll()
        .where('chain', '=', chain)
        .where('tx_hash', 'in', hashes.slice(i, i + BATCH))
        .execute();
      for (const r of rows) existing.set(`${r.tx_hash}:${r.tx_log_ordinal}`, r);
    }
    const fresh: NewDeposit[] = [];
    let moved = 0;
    const audits: AuditEntry[] = [];
    for (const t of matched) {
      const found = existing.get(`${t.txHash}:${t.txLogOrdinal}`);
      if (!found) {
        fresh.push({
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
        });
        continue;
      }
      if (found.block_hash === t.blockHash) continue;
      if (found.status === 'confirmed' || found.status === 'failed') {
        logger.error(
          { txHash: t.txHash, status: found.status, block: t.blockNumber },
          'a finished deposit was seen again in another block; its outcome was already reported',
        );
        continue;
      }
      // Re-included after a reorganisation (or moved): follow it to its new block; no new status 2.
      moved++;
      await trx
        .updateTable('deposits')
        .set({
          status: 'pending',
          orphaned_at: null,
          log_index: t.logIndex,
          block_number: t.blockNumber,
          block_hash: t.blockHash,
          updated_at: now,
        })
        .where('id', '=', found.id)
        .execute();
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
    }
    for (const d of fresh) {
      const ref = depositRef(d.tx_hash, d.tx_log_ordinal);
      audits.push({
        subject: 'deposit',
        ref,
        txHash: d.tx_hash,
        toState: 'pending',
        blockNumber: d.block_number,
        detail: { to: d.to_address, from: d.from_address, symbol: d.symbol, amountRaw: d.amount_raw },
      });
      if (d.status === 'confirmed') {
        audits.push({
          subject: 'deposit',
          ref,
          txHash: d.tx_hash,
          fromState: 'pending',
          toState: 'confirmed',
          blockNumber: d.block_number,
        });
      }
    }
    await recordAudit(trx, audits, now);
    if (moved) options.onStatus?.('moved', moved);
    if (fresh.length === 0) return;
    for (let i = 0; i < fresh.length; i += BATCH) {
      await trx
        .insertInto('deposits')
        .values(fresh.slice(i, i + BATCH))
        .execute();
    }
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
    options.onStatus?.('pending', rows.length);
    if (final.length) options.onStatus?.('confirmed', final.length);
  }

  /** Pending deposits deep enough become confirmed; orphaned ones gone long enough become failed. */
  async function settle(trx: Transaction<Database>, tipNumber: number, now: number) {
    const deepest = tipNumber - confirmHeight + 1;
    const confirmed = await trx
      .selectFrom('deposits')
      .selectAll()
      .where('chain', '=', chain)
      .where('status', '=', 'pending')
      .where('block_number', '<=', deepest)
      .orderBy('block_number')
      .orderBy('log_index')
      .execute();
    const failed = await trx
      .selectFrom('deposits')
      .selectAll()
      .where('chain', '=', chain)
      .where('status', '=', 'orphaned')
      .where('orphaned_at', '<=', deepest)
      .orderBy('id')
      .execute();
    for (const [rows, status, code] of [
      [confirmed, 'confirmed', 1],
      [failed, 'failed', 0],
    ] as const) {
      if (rows.length === 0) continue;
      const ids = rows.map((r) => r.id);
      for (let i = 0; i < ids.length; i += BATCH) {
        await trx
          .updateTable('deposits')
          .set({ status, updated_at: now })
          .where('id', 'in', ids.slice(i, i + BATCH))
          .execute();
      }
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
      options.onStatus?.(status, rows.length);
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
      const lostConfirmed = await trx
        .selectFrom('deposits')
        .select(['tx_hash', 'block_number'])
        .where('chain', '=', chain)
        .where('status', '=', 'confirmed')
        .where('block_number', '>=', firstRemoved)
        .execute();
      for (const r of lostConfirmed) {
        logger.error(
          { txHash: r.tx_hash, block: r.block_number },
          'a confirmed deposit was removed by a reorganisation deeper than confirmHeight',
        );
      }
      // The rows the update below changes (the watcher is the only writer of deposits), for the audit log.
      const orphaning = await trx
        .selectFrom('deposits')
        .select(['tx_hash', 'tx_log_ordinal', 'block_number'])
        .where('chain', '=', chain)
        .where('status', '=', 'pending')
        .where('block_number', '>=', firstRemoved)
        .execute();
      const result = await trx
        .updateTable('deposits')
        .set({ status: 'orphaned', orphaned_at: firstRemoved, updated_at: now })
        .where('chain', '=', chain)
        .where('status', '=', 'pending')
        .where('block_number', '>=', firstRemoved)
        .executeTakeFirst();
      const n = Number(result.numUpdatedRows);
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
    afterCommit: options.afterCommit,
  };
}
