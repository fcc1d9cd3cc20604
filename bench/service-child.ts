/**
 * A service in a process of its own, so its memory and CPU are not mixed with the bench's. Started by
 * `startServiceChild` (child.ts) with its options in BENCH_SERVICE; talks over the IPC channel.
 */
import type { Config } from '../src/config/types.js';
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

const input = decodeJson(process.env.BENCH_SERVICE ?? '') as ChildInput;
const service = await createService({
  config: input.config,
  signKey: input.signKey,
  masterKey: input.masterKey ?? 'b2'.repeat(32),
  tuning: input.tuning,
});
service.lanes[0]!.onBlock((e) =>
  send({ type: 'block', number: e.number, transfers: e.transfers, at: nowMs(), cpuUs: cpuUs() }),
);
send({ type: 'starting', at: nowMs(), cpuUs: cpuUs() });
await service.start();
send({ type: 'started', at: nowMs() });

async function count(table: 'deposits' | 'outbox', unsentOnly = false): Promise<number> {
  let query = service.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n'));
  if (unsentOnly) query = query.where('sent_at' as never, 'is', null);
  const row = await query.executeTakeFirst();
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
      deposits: await count('deposits'),
      outbox: await count('outbox'),
      unsent: await count('outbox', true),
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
    send({ type: 'stopped', at: nowMs() });
    // exit (not just a disconnect) so a --cpu-prof profile is written now
    setTimeout(() => process.exit(0), 50);
  }
});
