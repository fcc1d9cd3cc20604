/**
 * The baseline of the idle memory figures: what a bare watcher holds open, without the service. The same
 * loader and flags as the service child (child.ts), the same libraries: a newHeads WebSocket (ws), a viem
 * HTTP client that asks for the head, the database driver with a connection, and a RabbitMQ connection
 * with a confirming publisher (rabbitmq-client). Speaks the service child's IPC (ipc.ts).
 */
import BetterSqlite3 from 'better-sqlite3';
import { createPool } from 'mysql2/promise';
import { Connection } from 'rabbitmq-client';
import { createPublicClient, http } from 'viem';
import WebSocket from 'ws';
import type { Config } from '../src/config/types.js';
import { type ChildReply, type ChildRequest, cpuUs, decodeJson, nowMs } from './ipc.js';

function send(msg: ChildReply) {
  process.send?.(msg);
}

const { config } = decodeJson(process.env.BENCH_SERVICE ?? '') as { config: Config };
send({ type: 'starting', at: nowMs(), cpuUs: cpuUs() });

const client = createPublicClient({ transport: http(config.chain.rpcUrl) });
await client.getBlockNumber();

const ws = new WebSocket(config.chain.wsUrl);
await new Promise<void>((resolve, reject) => {
  ws.once('open', () => resolve());
  ws.once('error', reject);
});
ws.on('message', () => {});
ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_subscribe', params: ['newHeads'] }));

let closeDb: () => Promise<void>;
if (config.db.driver === 'sqlite') {
  const sqlite = new BetterSqlite3(config.db.file);
  sqlite.prepare('select count(*) from chain_blocks').get();
  closeDb = async () => {
    sqlite.close();
  };
} else {
  const { host, port, user, password, database } = config.db;
  const pool = createPool({ host, port, user, password, database, connectionLimit: 10 });
  await pool.query('select count(*) from chain_blocks');
  closeDb = async () => {
    await pool.end();
  };
}

const rabbit = new Connection(config.rmq.url);
await rabbit.onConnect(10_000);
const publisher = rabbit.createPublisher({ confirm: true });
send({ type: 'started', at: nowMs() });

process.on('message', async (msg: ChildRequest) => {
  if (msg.type === 'memory') {
    if (msg.gc && typeof globalThis.gc === 'function') {
      globalThis.gc();
      globalThis.gc();
    }
    const usage = process.memoryUsage();
    send({
      type: 'memory',
      rss: usage.rss,
      heapUsed: usage.heapUsed,
      maxRss: process.resourceUsage().maxRSS * 1024,
    });
  } else if (msg.type === 'stop') {
    ws.terminate();
    await publisher.close();
    await rabbit.close();
    await closeDb();
    send({ type: 'stopped', at: nowMs() });
    setTimeout(() => process.exit(0), 50);
  }
});
