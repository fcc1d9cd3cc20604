import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Config, QueueConfig } from '../../src/config/types.js';
import { CLI, ROOT, TSX } from './cli.js';
import { printTestLog } from './log.js';
import { until } from './service.js';

/** The config as a v2 config.json, which is what an operator hands the service. */
export function toV2Json(config: Config): Record<string, unknown> {
  const q = (c: QueueConfig) => ({ queue: c.queue, exchange: c.exchange, routing: c.routing });
  const db =
    config.db.driver === 'sqlite'
      ? { driver: 'sqlite', file: config.db.file }
      : {
          user: config.db.user,
          password: config.db.password,
          host: config.db.host,
          port: config.db.port,
          database: config.db.database,
          maxOpenConns: config.db.maxOpenConns,
          maxIdleCoons: config.db.maxOpenConns,
          connMaxLife: config.db.connMaxLifeS,
        };
  return {
    rmq_config: {
      sub_addr: config.rmq.url,
      pay: q(config.rmq.pay),
      topup: q(config.rmq.topup),
      withdraw: q(config.rmq.withdraw),
      pay_resp: q(config.rmq.payResp),
      topup_resp: q(config.rmq.topupResp),
      withdraw_resp: q(config.rmq.withdrawResp),
    },
    eth_config: {
      rpcUrl: config.chain.rpcUrl,
      wsUrl: config.chain.wsUrl,
      confirmHeight: config.chain.confirmHeight,
      chainId: config.chain.chainId,
      tokens: Object.fromEntries(
        config.chain.tokens.map((t) => [t.symbol, { address: t.addressLc, decimals: t.decimals }]),
      ),
      collectionAddress: config.chain.collectionAddressLc ?? '',
      maxFeeGwei: Number(config.chain.maxFeePerGasWei / 1_000_000_000n),
      replaceAfterBlocks: config.chain.replaceAfterBlocks,
      dbConfig: db,
    },
    http_config: { addr: `${config.http.host}:${config.http.port}` },
    sign_window_s: config.signWindowS,
  };
}

export interface ServiceProcess {
  child: ChildProcess;
  /** Every line the process wrote. */
  output: string[];
  exited: Promise<number | null>;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

/** `m2pool-payment start --config PATH` as its own process (from source, via tsx). */
export function spawnService(configPath: string, env: NodeJS.ProcessEnv): ServiceProcess {
  return spawnStart(['--config', configPath], env);
}

/** `m2pool-payment start ARGS` as its own process (from source, via tsx). */
export function spawnStart(args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): ServiceProcess {
  const child = spawn(process.execPath, ['--import', TSX, CLI, 'start', ...args], {
    cwd,
    env: { ...process.env, LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let partial = '';
  const onData = (d: Buffer) => {
    const text = partial + d.toString();
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    output.push(...lines);
    for (const l of lines) printTestLog(l, `[svc ${child.pid}] `);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output,
    exited,
    waitForLog: (pattern, timeoutMs = 60_000) =>
      until(() => output.find((l) => pattern.test(l)), timeoutMs, `log line ${pattern}`),
  };
}

export function writeJson(path: string, value: unknown) {
  writeFileSync(path, JSON.stringify(value, null, 2));
}
