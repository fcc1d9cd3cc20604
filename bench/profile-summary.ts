/**
 * Where a service child's CPU time went: `BENCH_PROFILE=/tmp/prof npm run bench`, then
 * `npx tsx bench/profile-summary.ts /tmp/prof/<file>.cpuprofile [rows] [from to]`. Prints self time by
 * function, and by the nearest two src/ frames above it (which part of the service asked for the work).
 * `from` and `to` cut out a part by the child's marks (marks.<pid>.json beside the profile): `starting`,
 * `started`, `backfill` ('backfill started' logged), `block:<n>` (block n committed), e.g.
 * `backfill block:106` for the default deposit_scan (blocks 6..105 on stderr; the backfill's last range
 * ends one block later, confirmHeight below the head).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, rowsText, fromMark, toMark] = process.argv.slice(2);
if (!file) throw new Error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [rows] [from to]');
const rows = Number(rowsText ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

/** The window [from, to) in the profile's clock (µs), from the child's marks; everything without marks. */
function windowOf(): [number, number] {
  if (!fromMark) return [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile
  const pid = basename(file!).split('.')[3];
  const marksFile = join(dirname(file!), `marks.${pid}.json`);
  if (!existsSync(marksFile)) throw new Error(`no ${marksFile}: was it written with BENCH_PROFILE?`);
  const marks = JSON.parse(readFileSync(marksFile, 'utf8')) as Record<string, number>;
  const at = (name: string | undefined) => {
    if (name === undefined) return Number.POSITIVE_INFINITY;
    const us = marks[name];
    if (us === undefined)
      throw new Error(`no mark ${name} in ${marksFile} (${Object.keys(marks).length} marks)`);
    return us;
  };
  return [at(fromMark), at(toMark)];
}
const [from, to] = windowOf();
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);

const shortUrl = (url: string) =>
  url.replace(/.*node_modules\//, '~/').replace(/.*\/(src|bench|test)\//, '$1/');
const byFunction = new Map<string, number>();
const bySrcCaller = new Map<string, number>();
let total = 0;
let clock = profile.startTime;
profile.samples.forEach((id, i) => {
  const us = profile.timeDeltas[i] ?? 0;
  clock += us;
  if (clock < from || clock >= to) return;
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
const span = Number.isFinite(from) ? ` between ${fromMark} and ${toMark ?? 'the end'}` : '';
console.log(`total ${(total / 1000).toFixed(0)} ms${span}`);
print('self time by function', byFunction);
print('self time by the src/ code that called it', bySrcCaller);
