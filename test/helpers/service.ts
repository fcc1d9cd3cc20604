import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { pino } from 'pino';
import type { Hex } from 'viem';
import { defaultAlertsConfig } from '../../src/config/alerts.js';
import { singleChainConfig } from '../../src/config/chains.js';
import type { Config } from '../../src/config/types.js';
import { createLogger, type Logger } from '../../src/internal/logger.js';
import { stringifyMessage } from '../../src/protocol/json.js';
import { withSignature } from '../../src/protocol/sign.js';
import { createService, type Service, type ServiceTuning } from '../../src/service.js';
import type { TestChain } from './chain.js';
import type { DbKind } from './db.js';
import { createTestDatabase } from './db.js';
import { printTestLog } from './log.js';
import type { TestQueues } from './rabbit.js';

export const TEST_SIGN_KEY = 'test-sign-key-0123456789';
export const TEST_MASTER_KEY = 'a1'.repeat(32);

export interface TestConfigOptions {
  chain: TestChain;
  queues: Config['rmq'];
  db: Config['db'];
  confirmHeight?: number;
  rpcUrl?: string;
  wsUrl?: string;
  collectionAddressLc?: Hex;
  maxFeePerGasWei?: bigint;
  replaceAfterBlocks?: number;
}

export function testConfig(options: TestConfigOptions): Config {
  return singleChainConfig({
    rmq: options.queues,
    chain: {
      name: 'ETH',
      chainId: options.chain.anvil.chainId,
      rpcUrl: options.rpcUrl ?? options.chain.anvil.rpcUrl,
      wsUrl: options.wsUrl ?? options.chain.anvil.wsUrl,
      confirmHeight: options.confirmHeight ?? 3,
      tokens: [{ symbol: 'USDT', addressLc: options.chain.token.toLowerCase() as Hex, decimals: 6 }],
      collectionAddressLc: options.collectionAddressLc,
      maxFeePerGasWei: options.maxFeePerGasWei ?? 500n * 10n ** 9n,
      replaceAfterBlocks: options.replaceAfterBlocks ?? 3,
    },
    db: options.db,
    http: { host: '127.0.0.1', port: 0 },
    signWindowS: 86_400,
    alerts: defaultAlertsConfig(),
  });
}

/** Fast polling so tests don't wait on timers; mining stays under the test's control. */
export const testTuning: ServiceTuning = {
  watcher: { pollMs: 100, slowPollMs: 300, progressMs: 1_000 },
  httpPort: 0,
};

/** Log lines of a service under test, kept in memory (and printed per TEST_LOG_LEVEL, see ./log.ts). */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      const text = chunk.toString();
      lines.push(text);
      printTestLog(text);
      cb();
    },
  });
  return {
    logger: createLogger({ destination: stream as unknown as pino.DestinationStream, level: 'debug' }),
    lines,
  };
}

export async function startTestService(config: Config, tuning: ServiceTuning = testTuning) {
  const { logger, lines } = captureLogger();
  const service: Service = await createService({
    config,
    signKey: TEST_SIGN_KEY,
    masterKey: TEST_MASTER_KEY,
    logger,
    tuning,
  });
  await service.start();
  return { service, logs: lines };
}

export function signedTopup(address: string, overrides: Record<string, unknown> = {}): string {
  return stringifyMessage(
    withSignature(
      { chain: 'ETH', symbol: 'USDT', address, timestamp: Math.floor(Date.now() / 1000), ...overrides },
      TEST_SIGN_KEY,
    ),
  );
}

export function randomAddress(): Hex {
  return `0x${randomBytes(20).toString('hex')}` as Hex;
}

/** Waits until `check` returns a truthy value. */
export async function until<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
  what = 'condition',
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function setupDb(kind: DbKind) {
  return createTestDatabase(kind);
}

export type { TestQueues };
