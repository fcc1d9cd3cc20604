import type BetterSqlite3 from 'better-sqlite3';
import type { Config } from '../src/config/types.js';
import { topupResponse } from '../src/protocol/responses.js';
import { type BareRange, readRangesBare } from './bare-logs.js';
import { nowMs } from './ipc.js';
import { closeRaw, openRaw, type RawDb } from './watched.js';

/** Rows per multi-row statement, as the service's repositories write them (ROWS_PER_STATEMENT). */
const ROWS = 500;
/**
 * The bare rows carry this chain name: the same values as the service's otherwise, beside them in the
 * same tables, without meeting the unique key of the service's own deposits.
 */
export const BARE_CHAIN = 'BARE';

const DEPOSIT_COLUMNS = [
  'chain',
  'symbol',
  'token_address',
  'tx_hash',
  'tx_log_ordinal',
  'log_index',
  'block_number',
  'block_hash',
  'from_address',
  'to_address',
  'amount_raw',
  'status',
  'created_at',
  'updated_at',
];
const OUTBOX_COLUMNS = ['topic', 'exchange', 'routing_key', 'body', 'subject', 'created_at', 'sent_at'];
const AUDIT_COLUMNS = [
  'subject',
  'ref',
  'tx_hash',
  'from_state',
  'to_state',
  'block_number',
  'detail',
  'created_at',
];
type Row = (string | number | null)[];

interface RangeRows {
  deposits: Row[];
  outbox: Row[];
  audit: Row[];
  cursor: Row;
}

/** The rows the service writes for transfers found final in a backfill: deposit, status 2 and 1, two audit rows. */
function rowsOf(config: Config, signKey: string, range: BareRange, watched: Set<string>): RangeRows {
  const { topupResp } = config.rmq;
  const token = config.chain.tokens[0]!;
  const now = Date.now();
  const rows: RangeRows = {
    deposits: [],
    outbox: [],
    audit: [],
    cursor: [BARE_CHAIN, range.endBlock.number, range.endBlock.hash, range.endBlock.parentHash],
  };
  const final: Row[] = [];
  for (const t of range.transfers) {
    if (!watched.has(t.toLc)) continue;
    const amountRaw = t.amountRaw.toString();
    rows.deposits.push([
      ...[BARE_CHAIN, token.symbol, t.tokenAddressLc, t.txHash, t.txLogOrdinal, t.logIndex, t.blockNumber],
      ...[t.blockHash, t.fromLc, t.toLc, amountRaw, 'confirmed', now, now],
    ]);
    const ref = `${t.txHash}:${t.txLogOrdinal}`;
    const body = (status: 1 | 2) =>
      topupResponse(
        {
          address: t.toLc,
          status,
          chain: config.chain.name,
          symbol: token.symbol,
          amountRaw: t.amountRaw,
          decimals: token.decimals,
          txHash: t.txHash,
          logIndex: t.logIndex,
          blockHeight: t.blockNumber,
          fromAddress: t.fromLc,
        },
        signKey,
      );
    const outbox = (status: 1 | 2): Row => [
      ...['topup', topupResp.exchange, topupResp.routing[0]!, body(status)],
      ...[`deposit:${ref}`, now, null],
    ];
    rows.outbox.push(outbox(2));
    final.push(outbox(1));
    const detail = JSON.stringify({ to: t.toLc, from: t.fromLc, symbol: token.symbol, amountRaw });
    rows.audit.push(
      ['deposit', ref, t.txHash, null, 'pending', t.blockNumber, detail, now],
      ['deposit', ref, t.txHash, 'pending', 'confirmed', t.blockNumber, null, now],
    );
  }
  // Every status 2 before any status 1, as the service orders them.
  rows.outbox.push(...final);
  return rows;
}

function slices<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += ROWS) out.push(items.slice(i, i + ROWS));
  return out;
}

/** SQLite: better-sqlite3, statements prepared once per shape, one transaction per range. */
function sqliteWriter(sqlite: BetterSqlite3.Database, chain: string, symbol: string) {
  const statements = new Map<string, BetterSqlite3.Statement>();
  const insert = (table: string, columns: string[], n: number) => {
    const key = `${table}:${n}`;
    let s = statements.get(key);
    if (!s) {
      const one = `(${columns.map(() => '?').join(', ')})`;
      s = sqlite.prepare(
        `insert into ${table} (${columns.join(', ')}) values ${Array(n).fill(one).join(', ')}`,
      );
      statements.set(key, s);
    }
    return s;
  };
  const watchedStatements = new Map<number, BetterSqlite3.Statement>();
  return {
    async watchedAmong(addresses: string[]): Promise<Set<string>> {
      const out = new Set<string>();
      for (const slice of slices(addresses)) {
        let s = watchedStatements.get(slice.length);
        if (!s) {
          s = sqlite.prepare(
            `select address from watched_addresses where chain = ? and symbol = ? and address in (${slice.map(() => '?').join(', ')})`,
          );
          watchedStatements.set(slice.length, s);
        }
        for (const r of s.all(chain, symbol, ...slice) as { address: string }[]) out.add(r.address);
      }
      return out;
    },
    async write(rows: RangeRows) {
      sqlite.transaction(() => {
        for (const [table, columns, list] of [
          ['deposits', DEPOSIT_COLUMNS, rows.deposits],
          ['outbox', OUTBOX_COLUMNS, rows.outbox],
          ['audit_log', AUDIT_COLUMNS, rows.audit],
        ] as const) {
          for (const slice of slices(list)) insert(table, [...columns], slice.length).run(slice.flat());
        }
        sqlite.prepare('delete from chain_blocks where chain = ?').run(BARE_CHAIN);
        insert('chain_blocks', ['chain', 'number', 'hash', 'parent_hash'], 1).run(rows.cursor);
      })();
    },
  };
}

/** MariaDB: one mysql2 connection, `values ?` multi-row inserts, one transaction per range. */
function mysqlWriter(mysql: Extract<RawDb, { driver: 'mysql' }>['mysql'], chain: string, symbol: string) {
  return {
    async watchedAmong(addresses: string[]): Promise<Set<string>> {
      const out = new Set<string>();
      for (const slice of slices(addresses)) {
        const [rows] = await mysql.query(
          'select address from watched_addresses where chain = ? and symbol = ? and address in (?)',
          [chain, symbol, slice],
        );
        for (const r of rows as { address: string }[]) out.add(r.address);
      }
      return out;
    },
    async write(rows: RangeRows) {
      await mysql.beginTransaction();
      try {
        for (const [table, columns, list] of [
          ['deposits', DEPOSIT_COLUMNS, rows.deposits],
          ['outbox', OUTBOX_COLUMNS, rows.outbox],
          ['audit_log', AUDIT_COLUMNS, rows.audit],
        ] as const) {
          for (const slice of slices(list))
            await mysql.query(`insert into ${table} (${columns.join(', ')}) values ?`, [slice]);
        }
        await mysql.query('delete from chain_blocks where chain = ?', [BARE_CHAIN]);
        await mysql.query('insert into chain_blocks (chain, number, hash, parent_hash) values (?)', [
          rows.cursor,
        ]);
        await mysql.commit();
      } catch (err) {
        await mysql.rollback().catch(() => {});
        throw err;
      }
    },
  };
}

export interface BareIngestRun {
  seconds: number;
  /** Of which writing (building the rows, the watched lookup, the transactions). */
  writeSeconds: number;
  deposits: number;
}

/**
 * The deposit_ingest baseline: the same ranges read bare (readRangesBare), the recipients looked up in
 * watched_addresses, and the rows the service writes for each found transfer (the deposit, its status 2
 * and status 1 outbox rows, two audit rows) plus the cursor inserted with the plain driver into the same
 * database, one transaction per range. No service: no fencing, no reorganisation checks, no relay.
 */
export async function bareIngest(
  config: Config,
  signKey: string,
  from: number,
  to: number,
): Promise<BareIngestRun> {
  const raw = await openRaw(config.db);
  try {
    const chain = config.chain.name;
    const symbol = config.chain.tokens[0]!.symbol;
    const writer =
      raw.driver === 'sqlite'
        ? sqliteWriter(raw.sqlite, chain, symbol)
        : mysqlWriter(raw.mysql, chain, symbol);
    let deposits = 0;
    let writeMs = 0;
    const started = nowMs();
    const token = config.chain.tokens[0]!.addressLc;
    await readRangesBare(config.chain.rpcUrl, token, from, to, async (range) => {
      const t0 = nowMs();
      const watched = await writer.watchedAmong([...new Set(range.transfers.map((t) => t.toLc))]);
      const rows = rowsOf(config, signKey, range, watched);
      await writer.write(rows);
      deposits += rows.deposits.length;
      writeMs += nowMs() - t0;
    });
    return { seconds: (nowMs() - started) / 1000, writeSeconds: writeMs / 1000, deposits };
  } finally {
    await closeRaw(raw);
  }
}
