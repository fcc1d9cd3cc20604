import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, TSX } from './helpers/cli.js';

/** The benchmark runs end to end (small sizes) and prints every figure; its values are not judged here. */
describe('npm run bench (BENCH_QUICK)', () => {
  it('prints a bench and a ratio line for every figure', async () => {
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'bench', 'run.ts')], {
        cwd: ROOT,
        env: { ...process.env, BENCH_QUICK: '1' },
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
      const timer = setTimeout(() => child.kill('SIGKILL'), 280_000);
      child.on('error', reject);
      child.on('close', (c) => {
        clearTimeout(timer);
        resolve({ code: c, stdout: out, stderr: err });
      });
    });
    expect(code, stderr.slice(-2000)).toBe(0);
    const figures = [
      'deposit_ingest',
      'deposit_latency_p50',
      'deposit_latency_p99',
      'deposit_latency_max',
      'payout_baseline_sends',
      'payout_broadcast',
      'payout_answered',
      'memory_idle_0',
      'memory_idle_watched',
      'memory_per_watched_address',
      'memory_payout_peak',
    ];
    for (const name of figures) {
      expect(stdout).toMatch(new RegExp(`^bench ${name} -?[\\d.]+ \\S+$`, 'm'));
      expect(stdout).toMatch(new RegExp(`^ratio ${name} -?[\\d.]+$`, 'm'));
    }
  }, 300_000);
});
