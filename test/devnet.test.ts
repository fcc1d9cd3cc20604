import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { devnetRmq } from '../src/devnet/devnet.js';
import { runCli } from './helpers/cli.js';
import { type ServiceProcess, spawnStart } from './helpers/process.js';
import { TEST_AMQP_URL } from './helpers/rabbit.js';

/** `npm start` with no config file, in an empty directory: the embedded devnet. Then `npm run demo` against it. */
describe('the embedded devnet', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'm2p-devnet-'));
  const prefix = `t.${randomBytes(4).toString('hex')}.`;
  const env = { DEVNET_QUEUE_PREFIX: prefix, CONFIG_PATH: '', PAYMENT_SIGN_KEY: '', PAYMENT_MASTER_KEY: '' };
  let service: ServiceProcess | undefined;

  afterAll(async () => {
    if (service && service.child.exitCode === null) {
      service.child.kill('SIGTERM');
      await service.exited;
    }
    const rmq = devnetRmq(prefix);
    const conn = await amqplib.connect(TEST_AMQP_URL);
    const ch = await conn.createChannel();
    for (const q of [rmq.topup, rmq.withdraw, rmq.pay, rmq.topupResp, rmq.withdrawResp, rmq.payResp]) {
      await ch.deleteQueue(q.queue);
      await ch.deleteQueue(`${q.queue}.dlq`);
    }
    await ch.deleteExchange(rmq.topup.exchange);
    await conn.close();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('starts with nothing configured, passes the demo, and stops on SIGTERM with exit code 0', async () => {
    service = spawnStart([], env, cwd);
    await service.waitForLog(/devnet is running/, 90_000);
    const banner = service.output.join('\n');
    expect(banner).toMatch(/test USDT\s+0x[0-9a-f]{40}/);
    expect(banner).toMatch(/RPC http:\/\/127\.0\.0\.1:\d+/);
    expect(banner).toContain(`${prefix}pay.recharge.queue`);
    expect(banner).toMatch(/m2pool-payment dev topup 0x/);

    const demo = await runCli(['dev', 'demo'], { cwd, env, timeoutMs: 150_000 });
    expect(demo.stderr).toBe('');
    expect(demo.code).toBe(0);
    expect(demo.stdout).toMatch(/"status":2/);
    expect(demo.stdout).toMatch(/"status":1/);
    expect(demo.stdout).toContain('done: every message arrived');

    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(0);
    expect(service.output.join('\n')).toContain('service stopped');
  });
});
