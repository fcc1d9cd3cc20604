import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

export interface StartAnvilOptions {
  /** Fixed port; default: a free port picked by the OS (retried if anvil loses the race for it). */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** `--no-mining`: blocks only on `evm_mine` / `anvil_mine`. Default false (automine). */
  noMining?: boolean;
  /** `--block-time`: interval mining every N seconds. */
  blockTime?: number;
  /** `--chain-id`. Default anvil's 31337. */
  chainId?: number;
  /** `--state`: load from and dump to this file, so a devnet survives restarts. */
  statePath?: string;
  /** `--state-interval`: also dump every N seconds, so a SIGKILL loses at most that much. */
  stateInterval?: number;
  /** `--accounts`. Default anvil's 10. */
  accounts?: number;
  /** `--mnemonic`. Default anvil's "test test … junk". */
  mnemonic?: string;
  /** `--gas-limit` per block. */
  gasLimit?: bigint | number;
  /**
   * `--cache-path`. Default: a fresh temp dir, removed after stop. anvil_rollback / anvil_reorg make a
   * state dir there even with --prune-history, and anvil never removes it (default ~/.foundry/anvil/tmp).
   */
  cachePath?: string;
  /** More arguments, appended as given. */
  args?: string[];
  /** Path to the anvil binary. Default: `ANVIL_BIN`, else the @foundry-rs/anvil platform package. */
  binary?: string;
  /** How long to wait for `eth_chainId` to answer. Default 30 s. */
  startTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL. Default 5 s. */
  stopTimeoutMs?: number;
}

export interface AnvilInstance {
  host: string;
  port: number;
  rpcUrl: string;
  /** anvil serves WebSocket on the same port as HTTP. */
  wsUrl: string;
  chainId: number;
  pid: number;
  /** Where anvil keeps its state dirs; removed after stop unless passed in as an option. */
  cachePath: string;
  process: ChildProcess;
  /** SIGTERM, then SIGKILL after `stopTimeoutMs`; resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
}

const autoPortAttempts = 5;
const outputTailChars = 4000;

export async function startAnvil(options: StartAnvilOptions = {}): Promise<AnvilInstance> {
  const binary = options.binary ?? resolveAnvilBinary();
  const host = options.host ?? '127.0.0.1';
  const attempts = options.port === undefined ? autoPortAttempts : 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = options.port ?? (await findFreePort(host));
    try {
      return await launch(binary, host, port, options);
    } catch (error) {
      lastError = error;
      // Only an early exit can be a lost port race; a timeout or a bad option will not get better.
      if (!(error instanceof AnvilExitedError)) throw error;
    }
  }
  throw lastError;
}

class AnvilExitedError extends Error {
  override name = 'AnvilExitedError';
}

async function launch(
  binary: string,
  host: string,
  port: number,
  options: StartAnvilOptions,
): Promise<AnvilInstance> {
  const ownCacheDir =
    options.cachePath === undefined ? mkdtempSync(join(tmpdir(), 'anvil-cache-')) : undefined;
  const args = buildArgs(host, port, options.cachePath ?? ownCacheDir!, options);
  const removeCacheDir = () => {
    if (ownCacheDir) rmSync(ownCacheDir, { recursive: true, force: true });
  };
  // On Linux, setpriv makes the kernel signal anvil when this process dies, even by SIGKILL, where no
  // 'exit' handler runs. pdeathsig follows the spawning thread, so only from the main thread.
  const deathSignal = options.statePath ? 'TERM' : 'KILL';
  // Its own process group: a terminal's Ctrl-C reaches the service only, which drains and then stops anvil.
  const spawnOptions = { stdio: ['ignore', 'pipe', 'pipe'] as ('ignore' | 'pipe')[], detached: true };
  const usePdeathsig = process.platform === 'linux' && isMainThread && existsSync('/usr/bin/setpriv');
  const child = usePdeathsig
    ? spawn('/usr/bin/setpriv', [`--pdeathsig=${deathSignal}`, '--', binary, ...args], spawnOptions)
    : spawn(binary, args, spawnOptions);

  let output = '';
  const keepTail = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-outputTailChars);
  };
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);

  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
    liveChildren.delete(child);
    removeCacheDir();
  });
  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`cannot run anvil at ${binary}: ${error.message}`)));
  });
  spawnError.catch(() => {});

  if (child.pid === undefined) {
    removeCacheDir();
    await spawnError;
    throw new Error(`cannot run anvil at ${binary}`);
  }
  const pid = child.pid;
  liveChildren.set(child, { signal: options.statePath ? 'SIGTERM' : 'SIGKILL', cleanup: removeCacheDir });
  registerExitHook();

  const stopTimeoutMs = options.stopTimeoutMs ?? 5000;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (hasExited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!hasExited) child.kill('SIGKILL');
      }, stopTimeoutMs);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };

  const rpcUrl = `http://${urlHost(host)}:${port}`;
  try {
    const chainId = await Promise.race([
      waitForChainId(rpcUrl, options.startTimeoutMs ?? 30_000, () => hasExited),
      spawnError,
      exited.then(() => {
        throw new AnvilExitedError(
          `anvil exited before answering (code ${child.exitCode}, signal ${child.signalCode}): ${output.trim()}`,
        );
      }),
    ]);
    const wsUrl = `ws://${urlHost(host)}:${port}`;
    const cachePath = options.cachePath ?? ownCacheDir!;
    return { host, port, rpcUrl, wsUrl, chainId, pid, cachePath, process: child, stop };
  } catch (error) {
    await stop();
    if (error instanceof AnvilExitedError) throw error;
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}; anvil said: ${output.trim()}`,
    );
  }
}

function buildArgs(host: string, port: number, cachePath: string, options: StartAnvilOptions): string[] {
  // --prune-history needs its number: a bare flag breaks anvil_reorg, and full history leaves state
  // files under ~/.foundry.
  const args = ['--host', host, '--port', String(port), '--prune-history', '256', '--silent'];
  args.push('--cache-path', cachePath);
  if (options.noMining) args.push('--no-mining');
  if (options.blockTime !== undefined) args.push('--block-time', String(options.blockTime));
  if (options.chainId !== undefined) args.push('--chain-id', String(options.chainId));
  if (options.statePath !== undefined) args.push('--state', options.statePath);
  if (options.stateInterval !== undefined) args.push('--state-interval', String(options.stateInterval));
  if (options.accounts !== undefined) args.push('--accounts', String(options.accounts));
  if (options.mnemonic !== undefined) args.push('--mnemonic', options.mnemonic);
  if (options.gasLimit !== undefined) args.push('--gas-limit', String(options.gasLimit));
  if (options.args) args.push(...options.args);
  return args;
}

async function waitForChainId(rpcUrl: string, timeoutMs: number, hasExited: () => boolean): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (!hasExited()) {
    try {
      const response = await fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
        signal: AbortSignal.timeout(1000),
      });
      const body = (await response.json()) as { result?: unknown };
      if (typeof body.result === 'string') return Number(BigInt(body.result));
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline)
      throw new Error(`anvil did not answer eth_chainId at ${rpcUrl} in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // The exit race in launch() reports this with anvil's output; this value is never used.
  return new Promise<never>(() => {});
}

/** A port that was free a moment ago; anvil may still lose it to another process (startAnvil retries). */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

const platformPackages: Record<string, string> = {
  'linux-x64': '@foundry-rs/anvil-linux-amd64',
  'linux-arm64': '@foundry-rs/anvil-linux-arm64',
  'darwin-x64': '@foundry-rs/anvil-darwin-amd64',
  'darwin-arm64': '@foundry-rs/anvil-darwin-arm64',
  'win32-x64': '@foundry-rs/anvil-win32-amd64',
};

/**
 * The anvil binary shipped in the @foundry-rs/anvil platform package. Resolved by path rather than
 * through the package's postinstall, which may not have run.
 */
export function resolveAnvilBinary(): string {
  const fromEnv = process.env.ANVIL_BIN;
  if (fromEnv) return fromEnv;
  const pkg = platformPackages[`${process.platform}-${process.arch}`];
  if (!pkg) throw new Error(`no @foundry-rs/anvil package for ${process.platform}-${process.arch}`);
  const exe = process.platform === 'win32' ? 'anvil.exe' : 'anvil';
  const require = createRequire(import.meta.url);
  // The platform package is an optional dependency of @foundry-rs/anvil: hoisted next to it, or nested.
  const bases = [require];
  try {
    bases.push(createRequire(require.resolve('@foundry-rs/anvil/package.json')));
  } catch {
    // @foundry-rs/anvil itself is missing; the direct lookup may still find the platform package.
  }
  for (const base of bases) {
    try {
      const binary = join(dirname(base.resolve(`${pkg}/package.json`)), 'bin', exe);
      if (existsSync(binary)) return binary;
    } catch {
      // Not installed from this base.
    }
  }
  throw new Error(`anvil binary not found: install ${pkg} (or set ANVIL_BIN)`);
}

// Every anvil still running: the signal to send it if this process exits without stopping it, and
// what to clean up after it.
const liveChildren = new Map<ChildProcess, { signal: NodeJS.Signals; cleanup: () => void }>();
let exitHookRegistered = false;

function registerExitHook(): void {
  if (exitHookRegistered) return;
  exitHookRegistered = true;
  // 'exit' handlers must be synchronous: send the signal and let the kernel do the rest.
  process.on('exit', () => {
    for (const [child, { signal, cleanup }] of liveChildren) {
      try {
        child.kill(signal);
        // anvil has the dir open at most; on Linux removing it under a dying process is fine.
        cleanup();
      } catch {
        // Already gone.
      }
    }
  });
}
