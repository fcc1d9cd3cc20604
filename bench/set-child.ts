/**
 * Baseline for memory per watched address: what a plain in-memory `Set` of lowercase 0x-addresses
 * costs, in a process of its own. Prints the bytes per address (RSS growth after GC) over IPC.
 */
import { randomBytes } from 'node:crypto';

const n = Number(process.argv[2] ?? 1_000_000);
const gc = globalThis.gc ?? (() => {});
gc();
gc();
const before = process.memoryUsage().rss;
const set = new Set<string>();
const text = Buffer.alloc(42);
text.write('0x', 'latin1');
for (let i = 0; i < n; i++) {
  text.write(randomBytes(20).toString('hex'), 2, 'latin1');
  // a flat string of its own, as one read from a database row would be (no slice of a larger one)
  set.add(text.toString('latin1'));
}
gc();
gc();
const after = process.memoryUsage().rss;
process.send?.({ bytesPerAddress: (after - before) / set.size, size: set.size });
