import { type ChildProcess, fork } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Config } from '../src/config/types.js';
import type { ServiceTuning } from '../src/service.js';
import { TEST_MASTER_KEY, TEST_SIGN_KEY } from '../test/helpers/service.js';
import { type ChildReply, type ChildRequest, encodeJson } from './ipc.js';

export interface ServiceChild {
  pid: number;
  /** Every message received so far, in order. */
  readonly replies: ChildReply[];
  /** Resolves with the first reply (received or to come) that matches. */
  waitFor<T extends ChildReply['type']>(
    type: T,
    predicate?: (r: Extract<ChildReply, { type: T }>) => boolean,
    timeoutMs?: number,
  ): Promise<Extract<ChildReply, { type: T }>>;
  /** Sends a request and waits for the next reply of `replyType`. */
  request<T extends ChildReply['type']>(
    msg: ChildRequest,
    replyType: T,
  ): Promise<Extract<ChildReply, { type: T }>>;
  /** Stops the service cleanly and waits for the process to end. */
  stop(): Promise<void>;
}

const childScript = fileURLToPath(new URL('./service-child.ts', import.meta.url));
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface StartServiceChildOptions {
  config: Config;
  tuning: ServiceTuning;
  /** stdout and stderr (the service's JSON logs) go here. */
  logFile: string;
  /** Write a CPU profile into this folder. */
  profileDir?: string;
  /** Another script speaking the same IPC (the bare idle baseline); default service-child.ts. */
  script?: string;
}

/** Runs `createService(config).start()` in a child process (node --import tsx --expose-gc). */
export async function startServiceChild(options: StartServiceChildOptions): Promise<ServiceChild> {
  const fd = openSync(options.logFile, 'a');
  const execArgv = ['--import', 'tsx', '--expose-gc'];
  if (options.profileDir) execArgv.push('--cpu-prof', '--cpu-prof-dir', options.profileDir);
  const child = fork(options.script ?? childScript, [], {
    execArgv,
    stdio: ['ignore', fd, fd, 'ipc'],
    env: {
      ...process.env,
      LOG_FORMAT: 'json',
      ...(options.profileDir ? { BENCH_PROFILE_DIR: options.profileDir } : {}),
      BENCH_SERVICE: encodeJson({
        config: options.config,
        signKey: TEST_SIGN_KEY,
        masterKey: TEST_MASTER_KEY,
        tuning: options.tuning,
      }),
    },
  });
  closeSync(fd);
  live.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => live.delete(child));

  const replies: ChildReply[] = [];
  const waiters = new Set<(r: ChildReply | undefined) => void>();
  child.on('message', (msg: ChildReply) => {
    replies.push(msg);
    for (const w of waiters) w(msg);
  });
  void exited.then(() => {
    for (const w of waiters) w(undefined);
  });

  function waitFor<T extends ChildReply['type']>(
    type: T,
    predicate: (r: Extract<ChildReply, { type: T }>) => boolean = () => true,
    timeoutMs = 120_000,
    from = 0,
  ): Promise<Extract<ChildReply, { type: T }>> {
    const matches = (r: ChildReply): r is Extract<ChildReply, { type: T }> =>
      r.type === type && predicate(r as Extract<ChildReply, { type: T }>);
    const found = replies.slice(from).find(matches);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(undefined, `timed out after ${timeoutMs} ms`), timeoutMs);
      const waiter = (r: ChildReply | undefined) => {
        if (r === undefined) done(undefined, `exited (code ${child.exitCode})`);
        else if (matches(r)) done(r);
      };
      function done(r: Extract<ChildReply, { type: T }> | undefined, why?: string) {
        clearTimeout(timer);
        waiters.delete(waiter);
        if (r) resolve(r);
        else reject(new Error(`service child waiting for '${type}': ${why}; see ${options.logFile}`));
      }
      waiters.add(waiter);
    });
  }

  const service: ServiceChild = {
    pid: child.pid!,
    replies,
    waitFor,
    request(msg, replyType) {
      const reply = waitFor(replyType, undefined, 60_000, replies.length);
      child.send(msg);
      return reply;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.send({ type: 'stop' } satisfies ChildRequest);
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
  try {
    await waitFor('started', undefined, 60_000);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
  return service;
}
