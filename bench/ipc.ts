/** Messages between the bench and a service child, and a JSON form of its config (bigints included). */
export type ChildRequest =
  | { type: 'memory'; gc: boolean }
  /** Deposits found in blocks `fromBlock..toBlock`, and outbox rows. */
  | { type: 'counts'; fromBlock: number; toBlock: number }
  | { type: 'payouts' }
  | { type: 'stop' };

export type ChildReply =
  | { type: 'starting'; at: number; cpuUs: number }
  | { type: 'started'; at: number }
  /** The watcher logged 'backfill started': its first eth_getLogs range follows. */
  | { type: 'backfill'; at: number; cpuUs: number }
  | { type: 'block'; number: number; transfers: number; at: number; cpuUs: number }
  | { type: 'memory'; rss: number; heapUsed: number; maxRss: number }
  | { type: 'counts'; deposits: number; outbox: number; unsent: number }
  /** Payout rows by state, with the time and CPU used so far when counted. */
  | { type: 'payouts'; states: Record<string, number>; at: number; cpuUs: number }
  | { type: 'stopped'; at: number };

/** CPU time (user + system) this process used so far, in microseconds. */
export function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** Wall-clock milliseconds with sub-ms precision, comparable between processes on one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function encodeJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v));
}

export function decodeJson(text: string): unknown {
  return JSON.parse(text, (_key, v) =>
    v && typeof v === 'object' && typeof v.$bigint === 'string' ? BigInt(v.$bigint) : v,
  );
}
