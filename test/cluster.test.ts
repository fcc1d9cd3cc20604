import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config/types.js';
import { createTestChain, type TestChain } from './helpers/chain.js';
import { runCli } from './helpers/cli.js';
import { createTestDatabase } from './helpers/db.js';
import { type ServiceProcess, spawnStart, toV2Json, writeJson } from './helpers/process.js';
import { createTestQueues } from './helpers/rabbit.js';
import { TEST_MASTER_KEY, TEST_SIGN_KEY, testConfig } from './helpers/service.js';

const env = { PAYMENT_SIGN_KEY: TEST_SIGN_KEY, PAYMENT_MASTER_KEY: TEST_MASTER_KEY };

let chain: TestChain;
const dir = mkdtempSync(join(tmpdir(), 'm2p-cluster-'));

beforeAll(async () => {
  chain = await createTestChain({ noMining: true });
  await chain.deployToken();
});
afterAll(async () => {
  await chain?.stop();
  rmSync(dir, { recursive: true, force: true });
});

let configCount = 0;
function writeConfig(config: Config): string {
  const path = join(dir, `config-${++configCount}.json`);
  writeJson(path, toV2Json(config));
  return path;
}

/** A TCP port free on 127.0.0.1 a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function stopProcess(service: ServiceProcess | undefined) {
  if (!service || service.child.exitCode !== null || service.child.signalCode !== null) return;
  service.child.kill('SIGTERM');
  await service.exited;
}

describe('m2pool-payment start --http-addr', () => {
  it('listens on the address given instead of http_config.addr', async () => {
    const db = await createTestDatabase('sqlite');
    const queues = createTestQueues();
    const config = testConfig({ chain, queues, db: db.config });
    const configured = await freePort();
    config.http = { host: '127.0.0.1', port: configured };
    const port = await freePort();
    let service: ServiceProcess | undefined;
    try {
      service = spawnStart(['--config', writeConfig(config), '--http-addr', `127.0.0.1:${port}`], env);
      const line = await service.waitForLog(/"msg":"http listening"/);
      expect((JSON.parse(line) as { url: string }).url).toBe(`http://127.0.0.1:${port}`);
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      await expect(fetch(`http://127.0.0.1:${configured}/health`)).rejects.toThrow();
    } finally {
      await stopProcess(service);
      await queues.cleanup();
      await db.cleanup();
    }
  });

  it('refuses an address that is not host:port, with a line naming the flag', async () => {
    const db = await createTestDatabase('sqlite');
    const queues = createTestQueues();
    try {
      const path = writeConfig(testConfig({ chain, queues, db: db.config }));
      const result = await runCli(['start', '--config', path, '--http-addr', 'localhost'], { env });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('error: --http-addr "localhost": expected host:port');
    } finally {
      await queues.cleanup();
      await db.cleanup();
    }
  });
});
