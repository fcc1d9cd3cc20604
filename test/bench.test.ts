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

/** `bench/run.ts` with `env` added to this process's environment (BENCH_* unset first). */
function runBench(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BENCH_')));
    const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'bench', 'run.ts')], {
      cwd: ROOT,
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 200_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The instances part alone at its smoke size: one service instance, then three on one MariaDB database,
 * paying withdrawals over 10 wallets; the figure, its baseline (the one instance) and the ratio are
 * printed as finite numbers, with the goal of issue 13. The values are not judged.
 */
describe('npm run bench, the instances part (BENCH_QUICK, MariaDB)', () => {
  it('prints payouts_3_instances against payouts_1_instance with a ratio line', async () => {
    const { code, stdout, stderr } = await runBench({
      BENCH_QUICK: '1',
      BENCH_ONLY: 'instances',
      BENCH_DB: 'mysql',
    });
    expect(code, stderr.slice(-2000)).toBe(0);
    const num = '(-?[\\d.]+(?:e[+-]?\\d+)?)';
    const at = 'payouts_3_instances mysql';
    expect(numberIn(stdout, new RegExp(`^bench ${at} ${num} payouts/s$`, 'm'))).toSatisfy(Number.isFinite);
    expect(numberIn(stdout, new RegExp(`^baseline ${at} ${num} payouts/s$`, 'm'))).toSatisfy(Number.isFinite);
    const ratio = new RegExp(`^ratio ${at} ${num} \\((.+)\\)$`, 'm').exec(stdout);
    expect(ratio, 'ratio line').not.toBeNull();
    expect(Number(ratio![1])).toSatisfy(Number.isFinite);
    expect(ratio![2]).toMatch(/^goal ≥ 2\.5: (met|not met)$/);
    expect(stdout).toContain('payouts_1_instance');
  }, 220_000);
});
