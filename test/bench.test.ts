import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, TSX } from './helpers/cli.js';

/** Every figure the bench prints, with the goal on its ratio where issue 14 sets one. */
const FIGURES: [name: string, goal: string | undefined][] = [
  ['deposit_scan', '≥ 0.8'],
  ['deposit_ingest', '≥ 0.5'],
  ['deposit_latency_p50', undefined],
  ['deposit_latency_p99', '≤ 1.5'],
  ['payout_broadcast', '≥ 0.9'],
  ['payout_gas_batched', '≤ 0.6'],
  ['memory_idle', undefined],
  ['memory_watched', undefined],
  ['memory_ingest_peak', undefined],
  ['memory_payout_peak', undefined],
];
const DBS = ['sqlite', 'mysql'];

function numberIn(stdout: string, pattern: RegExp): number {
  const match = pattern.exec(stdout);
  if (!match) throw new Error(`no line matching ${pattern}`);
  return Number(match[1]);
}

/**
 * The benchmark runs end to end at tiny sizes on both databases (BENCH_DB's default) and prints every
 * figure, its same-run baseline and their ratio as finite numbers; the values themselves are not judged.
 */
describe('npm run bench (BENCH_QUICK)', () => {
  it('prints a figure, a baseline and a ratio line for every figure on both databases', async () => {
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((resolve, reject) => {
      const env: NodeJS.ProcessEnv = { ...process.env, BENCH_QUICK: '1' };
      delete env.BENCH_DB;
      delete env.BENCH_ONLY;
      const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'bench', 'run.ts')], {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      child.stderr.on('data', (d) => {
        err += d;
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 400_000);
      child.on('error', reject);
      child.on('close', (c) => {
        clearTimeout(timer);
        resolve({ code: c, stdout: out, stderr: err });
      });
    });
    expect(code, stderr.slice(-2000)).toBe(0);
    const num = '(-?[\\d.]+(?:e[+-]?\\d+)?)';
    for (const [name, goal] of FIGURES) {
      for (const db of DBS) {
        const at = `${name} ${db}`;
        expect(numberIn(stdout, new RegExp(`^bench ${at} ${num} \\S+$`, 'm')), at).toSatisfy(Number.isFinite);
        expect(numberIn(stdout, new RegExp(`^baseline ${at} ${num} \\S+$`, 'm')), at).toSatisfy(
          Number.isFinite,
        );
        const ratio = new RegExp(`^ratio ${at} ${num} \\((.+)\\)$`, 'm').exec(stdout);
        expect(ratio, `ratio line of ${at}`).not.toBeNull();
        expect(Number(ratio![1]), at).toSatisfy(Number.isFinite);
        if (goal) expect(ratio![2], at).toMatch(new RegExp(`^goal ${goal}: (met|not met)$`));
        else expect(ratio![2], at).toBe('no goal');
      }
    }
  }, 420_000);
});
