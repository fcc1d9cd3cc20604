import { existsSync } from 'node:fs';
import { resolveConfigPath, resolveSignKey } from '../config/args.js';
import { ConfigError } from '../config/errors.js';
import { loadConfig } from '../config/load.js';
import { HTTP_ADDR_FORM, parseHttpAddr } from '../config/parse.js';
import type { Config } from '../config/types.js';
import { printDevnetBanner } from '../devnet/banner.js';
import { type Devnet, startDevnet } from '../devnet/devnet.js';
import { backoffMs } from '../internal/backoff.js';
import { errorMessage, PaymentError, sleep } from '../internal/errors.js';
import { createLogger } from '../internal/logger.js';
import { redactUrls } from '../internal/redact.js';
import { createService } from '../service.js';
import { isConnectionError } from '../store/connection-errors.js';

/**
 * Where the configuration comes from: the file of --config or CONFIG_PATH (which must exist), else
 * ./config.json when it exists, else the embedded devnet.
 */
export function resolveConfigSource(
  flags: { config?: string | undefined },
  env: NodeJS.ProcessEnv,
): { devnet: false; path: string } | { devnet: true } {
  const explicit = Boolean(flags.config || env.CONFIG_PATH);
  const path = resolveConfigPath(flags, env);
  return !explicit && !existsSync(path) ? { devnet: true } : { devnet: false, path };
}

export interface StartFlags {
  config?: string;
  key?: string;
  /** `--http-addr host:port`: overrides `http_config.addr` (several instances on one machine). */
  httpAddr?: string;
}

/** How long a stop may take before the process exits anyway. */
const STOP_DEADLINE_MS = 10_000;

/**
 * `m2pool-payment start`: with a config file, runs against it; with none (no --config, no CONFIG_PATH,
 * no ./config.json), runs the embedded devnet. Resolves with the exit code once stopped.
 */
export async function runStart(flags: StartFlags, argv: readonly string[]): Promise<number> {
  const logger = createLogger();
  const env = process.env;
  const source = resolveConfigSource(flags, env);
  let config: Config;
  let signKey = flags.key || resolveSignKey(argv, env);
  let devnet: Devnet | undefined;
  try {
    if (source.devnet) {
      logger.info(
        'no config file: starting the embedded devnet (chains ETH and BSC, each its own anvil and test USDT; SQLite under ./data)',
      );
      devnet = await startDevnet(logger);
      config = devnet.config;
      signKey ??= devnet.state.signKey;
    } else {
      config = loadConfig({ path: source.path, env });
    }
  } catch (err) {
    return reportStartError(err);
  }
  if (flags.httpAddr !== undefined) {
    const http = parseHttpAddr(flags.httpAddr);
    if (!http) {
      await devnet?.stop();
      console.error(`error: --http-addr ${JSON.stringify(flags.httpAddr)}: expected ${HTTP_ADDR_FORM}`);
      return 2;
    }
    config = { ...config, http };
  }
  if (!signKey) {
    await devnet?.stop();
    console.error('error: no signing secret: pass --key SECRET or set PAYMENT_SIGN_KEY');
    return 2;
  }

  // Signals are handled from here on: a stop during the start (a standby waiting for the instance lock,
  // the node retried) ends the wait and exits 0; after the start it drains and exits 0.
  const starting = new AbortController();
  let service: Awaited<ReturnType<typeof createService>> | undefined;
  let stopping = false;
  let resolveExit: (code: number) => void = () => {};
  const exit = new Promise<number>((resolve) => {
    resolveExit = resolve;
  });
  const stopService = (code: number) => {
    const deadline = setTimeout(() => {
      logger.error('stop took longer than 10 s: exiting');
      process.exit(1);
    }, STOP_DEADLINE_MS);
    deadline.unref();
    void (service?.stop() ?? Promise.resolve())
      .then(() => devnet?.stop())
      .then(() => resolveExit(code))
      .catch((err) => {
        logger.error({ err }, 'error while stopping');
        resolveExit(1);
      });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping: draining in-flight work');
    starting.abort();
    // Still starting: the start ends (its wait aborted), and the code below stops what it made.
    if (running) stopService(0);
  };
  let running = false;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // One run of the service after another: a run ends for good on a signal or an error that will repeat
  // (a wrong config, chain id or master key); it is started again when it stopped itself or could not
  // start because the database or broker was unreachable.
  for (let attempt = 1; ; attempt++) {
    let stoppedItself: ((err: Error) => void) | undefined;
    const lost = new Promise<Error>((resolve) => {
      stoppedItself = resolve;
    });
    try {
      service = await createService({
        config,
        signKey,
        masterKey: devnet?.state.masterKey ?? env.PAYMENT_MASTER_KEY,
        logger,
        signal: starting.signal,
        // The service stopped itself (a chain found on another chain after the start): start again.
        onFatal: (err) => stoppedItself?.(err),
      });
      await service.start();
    } catch (err) {
      await service?.stop();
      service = undefined;
      if (stopping) {
        await devnet?.stop();
        return 0;
      }
      if (!isConnectionError(err)) {
        await devnet?.stop();
        return reportStartError(err);
      }
      const retryInMs = backoffMs(attempt);
      logger.warn(
        { err, attempt, retryInMs },
        'could not start: the database or broker is unreachable; retrying',
      );
      await sleep(retryInMs, starting.signal);
      continue;
    }
    if (stopping) {
      // A signal came as the start finished.
      stopService(0);
      return exit;
    }
    running = true;
    attempt = 0;
    if (devnet) printDevnetBanner(devnet, service.httpAddress());
    const ended = await Promise.race([exit.then(() => undefined), lost]);
    if (ended === undefined) return exit;
    running = false;
    service = undefined;
    logger.warn({ err: ended }, 'this run stopped itself; starting again');
  }
}

/** Prints a failure to start (every config problem on its own line); resolves to the exit code. */
export function reportStartError(err: unknown): number {
  if (err instanceof ConfigError) {
    console.error('error: the configuration is not valid:');
    for (const line of err.problems) console.error(`  ${line}`);
    return 2;
  }
  if (err instanceof PaymentError) {
    console.error(`error: ${redactUrls(err.message)}`);
    return 1;
  }
  console.error(`error: could not start: ${errorMessage(err)}`);
  return 1;
}
