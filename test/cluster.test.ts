import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config/types.js';
import { createDatabase } from '../src/store/db.js';
import { countUnsentOutbox } from '../src/store/repos/outbox.js';
import { createTestChain, mineUntil, type TestChain } from './helpers/chain.js';
import { runCli } from './helpers/cli.js';
import { createTestDatabase } from './helpers/db.js';
import { type ServiceProcess, spawnService, spawnStart, toV2Json, writeJson } from './helpers/process.js';
import { createBusinessClient, createTestQueues } from './helpers/rabbit.js';
import {
  randomAddress,
  signedTopup,
  TEST_MASTER_KEY,
  TEST_SIGN_KEY,
  testConfig,
  until,
} from './helpers/service.js';

const env = { PAYMENT_SIGN_KEY: TEST_SIGN_KEY, PAYMENT_MASTER_KEY: TEST_MASTER_KEY };

let chain: TestChain;
const dir = mkdtempSync(join(tmpdir(), 'm2p-cluster-'));

const USDT = 1_000_000n;
const CONFIRM = 2;

beforeAll(async () => {
  chain = await createTestChain({ noMining: true });
  await chain.deployToken();
  await chain.mint(chain.accounts[1]!.address, 1_000_000n * USDT);
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

interface StatusJson {
  instance: { id: string };
  instances: { id: string; heartbeat_at: number; roles: string[] }[] | null;
}

interface Instance {
  proc: ServiceProcess;
  url: string;
  id: string;
}

/** An instance's HTTP URL and id, from its log lines. */
async function started(proc: ServiceProcess): Promise<Instance> {
  const line = await proc.waitForLog(/"msg":"service started"/);
  const url = (JSON.parse(await proc.waitForLog(/"msg":"http listening"/)) as { url: string }).url;
  return { proc, url, id: (JSON.parse(line) as { instance: string }).instance };
}

async function statusOf(instance: Instance): Promise<StatusJson> {
  return (await (await fetch(`${instance.url}/status`)).json()) as StatusJson;
}

/** The live instances holding `role`, as `/status` of `instance` shows them. */
async function holdersOf(instance: Instance, role: string): Promise<string[]> {
  const { instances } = await statusOf(instance);
  return (instances ?? []).filter((i) => i.roles.includes(role)).map((i) => i.id);
}

describe('three service processes on one MySQL database and one RabbitMQ', () => {
  it('one watches the chain; when it is SIGKILLed another takes over from the stored cursor, and every deposit is answered 2 then 1 exactly once', async () => {
    const db = await createTestDatabase('mysql');
    const queues = createTestQueues();
    const configPath = writeConfig(testConfig({ chain, queues, db: db.config, confirmHeight: CONFIRM }));
    const business = await createBusinessClient();
    const topups = await business.collect(queues.topupResp);
    const statuses = (address: string) =>
      topups.messages
        .map((m) => m.json as { address?: string; status: number })
        .filter((a) => a.address === address)
        .map((a) => a.status);
    const procs: ServiceProcess[] = [];
    // The database as an operator would look at it: the outbox, and whether addresses are watched.
    let view: Awaited<ReturnType<typeof createDatabase>> | undefined;
    const watched = async (address: string) =>
      (await view!.db.selectFrom('watched_addresses').select('address').execute()).some(
        (r) => r.address === address,
      );
    const topup = async (address: string) => {
      await business.publishRequest(queues.topup, signedTopup(address));
      await until(() => watched(address), 20_000, `topup ${address} registered`);
    };
    try {
      procs.push(spawnService(configPath, env));
      const first = await started(procs[0]!);
      view = await createDatabase(db.config);
      procs.push(spawnService(configPath, env), spawnService(configPath, env));
      const standbys = await Promise.all([started(procs[1]!), started(procs[2]!)]);

      // Every instance runs and is ready; the first leads the chain and the relay.
      for (const i of [first, ...standbys]) {
        expect((await fetch(`${i.url}/ready`)).status, `ready ${i.id}`).toBe(200);
      }
      const asked = standbys[0]!;
      await until(
        async () => (await statusOf(asked)).instances?.length === 3,
        10_000,
        'three instances listed',
      );
      const status = await statusOf(asked);
      expect(status.instance.id).toBe(asked.id);
      expect(await holdersOf(asked, 'watcher:ETH')).toEqual([first.id]);
      expect(await holdersOf(asked, 'relay')).toEqual([first.id]);
      const metrics = await (await fetch(`${asked.url}/metrics`)).text();
      expect(metrics).toContain(`m2pool_instance_role{instance="${first.id}",role="watcher:ETH"} 1`);
      for (const i of [first, ...standbys]) {
        expect(metrics).toMatch(
          new RegExp(`m2pool_instance_heartbeat_age_seconds\\{instance="${i.id}"\\} \\d+`),
        );
      }

      // A deposit with the first instance leading; another seen (status 2) just before it dies.
      const before = randomAddress();
      const across = randomAddress();
      await topup(before);
      await topup(across);
      await chain.transfer(1, before, 5n * USDT);
      await mineUntil(chain, () => statuses(before).includes(1), 'the first deposit final');
      await chain.transfer(1, across, 6n * USDT);
      await mineUntil(chain, () => statuses(across).includes(2), 'the second deposit seen');
      await until(async () => (await countUnsentOutbox(view!.db)) === 0, 20_000, 'the outbox sent');

      // The leader dies. A deposit is mined while nobody watches the chain.
      procs[0]!.child.kill('SIGKILL');
      const killedAt = Date.now();
      await procs[0]!.exited;
      const during = randomAddress();
      await topup(during);
      await chain.transfer(1, during, 7n * USDT);
      await chain.mine(1);

      // One of the two others takes the chain over.
      const taken = /"lease":"watcher:ETH".*"msg":"lease taken/;
      const leader = await until(
        () => standbys.find((i) => i.proc.output.some((l) => taken.test(l))),
        30_000,
        'a standby took watcher:ETH',
      );
      const takeoverMs = Date.now() - killedAt;
      console.log(`watcher:ETH taken over ${takeoverMs} ms after the leader was SIGKILLed`);
      const other = standbys.find((i) => i !== leader)!;
      expect(other.proc.output.some((l) => taken.test(l))).toBe(false);

      await mineUntil(
        chain,
        () => statuses(across).includes(1) && statuses(during).includes(1),
        'the deposits across the kill final',
      );
      await chain.mine(CONFIRM + 2);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(statuses(before)).toEqual([2, 1]);
      expect(statuses(across)).toEqual([2, 1]);
      expect(statuses(during)).toEqual([2, 1]);
      // Once the dead one's heartbeat is stale, it is no longer listed; the new leader is.
      await until(
        async () => (await statusOf(other)).instances?.length === 2,
        20_000,
        'the dead one dropped',
      );
      expect(await holdersOf(other, 'watcher:ETH')).toEqual([leader.id]);
    } finally {
      for (const p of procs) await stopProcess(p);
      await view?.close();
      await topups.stop();
      await business.close();
      await queues.cleanup();
      await db.cleanup();
    }
  });
});
