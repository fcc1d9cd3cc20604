/**
 * A service in a process of its own, so its memory and CPU are not mixed with the bench's. Started by
 * `startServiceChild` (child.ts) with its options in BENCH_SERVICE; talks over the IPC channel.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../src/config/types.js';
import { createLogger } from '../src/internal/logger.js';
import { createService, type ServiceTuning } from '../src/service.js';
import { type ChildReply, type ChildRequest, cpuUs, decodeJson, nowMs } from './ipc.js';

interface ChildInput {
  config: Config;
  signKey: string;
  /** PAYMENT_MASTER_KEY for the service's vault (a throwaway one by default). */
  masterKey?: string;
  tuning: ServiceTuning;
}

function send(msg: ChildReply) {
  process.send?.(msg);
}

/**
 * With BENCH_PROFILE, the moments of the events in the CPU profile's clock (CLOCK_MONOTONIC, µs), written
 * next to the profile at the stop, so that profile-summary.ts can cut out a part (`backfill block:N`).
 */
const profileDir = process.env.BENCH_PROFILE_DIR;
const marks: Record<string, number> = {};
function mark(name: string) {
  if (profileDir) marks[name] ??= Number(process.hrtime.bigint() / 1000n);
}

const input = decodeJson(process.env.BENCH_SERVICE ?? '') as ChildInput;
// The service's JSON logs go to stdout (the log file) as usual; the watcher's 'backfill started' line is
// also the bench's clock start for the scan and ingest figures, so their time is the backfill's alone
// and not the process start (connecting to the database, the broker, the node).
let backfillSeen = false;
const logger = createLogger({
  destination: {
    write(line: string) {
      process.stdout.write(line);
      if (!backfillSeen && line.includes('"msg":"backfill started"')) {
        backfillSeen = true;
        mark('backfill');
        send({ type: 'backfill', at: nowMs(), cpuUs: cpuUs() });
      }
    },
  },
});
const service = await createService({
  logger,
  config: input.config,
  signKey: input.signKey,
  masterKey: input.masterKey ?? 'b2'.repeat(32),
  tuning: input.tuning,
});
service.lanes[0]!.onBlock((e) => {
  mark(`block:${e.number}`);
  send({ type: 'block', number: e.number, transfers: e.transfers, at: nowMs(), cpuUs: cpuUs() });
});
mark('starting');
send({ type: 'starting', at: nowMs(), cpuUs: cpuUs() });
await service.start();
mark('started');
send({ type: 'started', at: nowMs() });

async function countOutbox(unsentOnly: boolean): Promise<number> {
  let query = service.db.selectFrom('outbox').select((eb) => eb.fn.countAll<number>().as('n'));
  if (unsentOnly) query = query.where('sent_at', 'is', null);
  const row = await query.executeTakeFirst();
  return Number(row?.n ?? 0);
}

async function countDeposits(fromBlock: number, toBlock: number): Promise<number> {
  const row = await service.db
    .selectFrom('deposits')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('chain', '=', input.config.chain.name)
    .where('block_number', '>=', fromBlock)
    .where('block_number', '<=', toBlock)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

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
  } else if (msg.type === 'counts') {
    send({
      type: 'counts',
      deposits: await countDeposits(msg.fromBlock, msg.toBlock),
      outbox: await countOutbox(false),
      unsent: await countOutbox(true),
    });
  } else if (msg.type === 'payouts') {
    const rows = await service.db
      .selectFrom('payouts')
      .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('state')
      .execute();
    const states = Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
    send({ type: 'payouts', states, at: nowMs(), cpuUs: cpuUs() });
  } else if (msg.type === 'stop') {
    await service.stop();
    if (profileDir) writeFileSync(join(profileDir, `marks.${process.pid}.json`), JSON.stringify(marks));
    send({ type: 'stopped', at: nowMs() });
    // exit (not just a disconnect) so a --cpu-prof profile is written now
    setTimeout(() => process.exit(0), 50);
  }
});
