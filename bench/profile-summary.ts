/**
 * Where a service child's CPU time went: `BENCH_PROFILE=/tmp/prof npm run bench`, then
 * `npx tsx bench/profile-summary.ts /tmp/prof/<file>.cpuprofile [rows]`. Prints self time by function,
 * and by the nearest two src/ frames above it (which part of the service asked for the work).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, rowsText] = process.argv.slice(2);
if (!file) throw new Error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [rows]');
const rows = Number(rowsText ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);

const shortUrl = (url: string) =>
  url.replace(/.*node_modules\//, '~/').replace(/.*\/(src|bench|test)\//, '$1/');
const byFunction = new Map<string, number>();
const bySrcCaller = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const us = profile.timeDeltas[i] ?? 0;
  total += us;
  const node = byId.get(id)!;
  const { functionName, url, lineNumber } = node.callFrame;
  const fn = `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  const callers: string[] = [];
  for (let cur: number | undefined = id; cur !== undefined && callers.length < 2; cur = parentOf.get(cur)) {
    const frame = byId.get(cur)!.callFrame;
    if (frame.url.includes('/src/'))
      callers.push(`${frame.functionName || '(anonymous)'}@${shortUrl(frame.url)}`);
  }
  const key = `${callers.join(' < ') || '-'}  [${functionName || '(anonymous)'}]`;
  bySrcCaller.set(key, (bySrcCaller.get(key) ?? 0) + us);
});

function print(title: string, map: Map<string, number>) {
  console.log(`\n${title}`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
    console.log(
      `${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${key}`,
    );
  }
}
console.log(`total ${(total / 1000).toFixed(0)} ms`);
print('self time by function', byFunction);
print('self time by the src/ code that called it', bySrcCaller);
