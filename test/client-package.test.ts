import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';

/**
 * `m2pool-payment/client` as an installed package sees it: the exports map, the build's JS and .d.ts,
 * a business system's code typechecked and run against it.
 */

describe('the package export m2pool-payment/client', () => {
  const dir = mkdtempSync(join(tmpdir(), 'm2p-client-pkg-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves through the exports map to the built JS and its types, and keeps the bin', async () => {
    const run = promisify(execFile);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.exports['./client']).toEqual({
      types: './dist/client/index.d.ts',
      import: './dist/client/index.js',
      default: './dist/client/index.js',
    });
    expect(pkg.bin['m2pool-payment']).toBe('dist/bin/m2pool-payment.js');
    // What the installed package reads at run time: the build, and the devnet's token artifact.
    expect(pkg.files).toEqual(expect.arrayContaining(['dist', 'contracts']));

    // The package as installed: package.json and what `npm run build` emits, its dependencies beside it.
    const installed = join(dir, 'node_modules', 'm2pool-payment');
    mkdirSync(installed, { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(installed, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(installed, 'node_modules'), 'dir');
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [
      tsc,
      '-p',
      join(ROOT, 'tsconfig.build.json'),
      '--outDir',
      join(installed, 'dist'),
    ]);

    // A business system's code, typechecked against the export's .d.ts.
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['business.ts'],
      }),
    );
    writeFileSync(
      join(dir, 'business.ts'),
      `import { createPaymentClient, isDepositAnswer, type WithdrawAnswer } from 'm2pool-payment/client';
const client = createPaymentClient({ secret: 's', rmq: {} as never });
client.onTopup((a) => { if (isDepositAnswer(a)) { const amount: string = a.amount; void amount; } });
client.onWithdraw(async (a: WithdrawAnswer) => { if (a.status === 0) { const code: string = a.error; void code; } });
// @ts-expect-error an amount is a decimal string, never a float
void client.withdraw({ queue_id: 'q', from_address: '0x', to_address: '0x', amount: 1.5, chain: 'ETH', symbol: 'USDT' });
`,
    );
    await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: dir });

    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('m2pool-payment/client'); console.log(typeof m.createPaymentClient, typeof m.parseAmount);",
      ],
      { cwd: dir },
    );
    expect(stdout.trim()).toBe('function function');
  }, 120_000);
});
