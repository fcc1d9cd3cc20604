/**
 * The real service as child processes (`m2pool-payment start --config …`, from source): started,
 * SIGKILLed and restarted by the run. An exit the run did not cause is a crash, kept with its last lines.
 */
import { type ServiceProcess, spawnService } from '../test/helpers/process.js';

export interface Crash {
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines the process wrote. */
  lastLines: string[];
}

interface Instance {
  proc: ServiceProcess;
  /** The run sent it a signal: its exit is not a crash. */
  killed: boolean;
  exited: boolean;
}

export interface Instances {
  /** Starts one more instance. */
  start(): void;
  /**
   * SIGKILLs a running instance and starts a new one after `restartAfterMs`; false when none was running.
   * `pick(n)` chooses among the `n` running ones, oldest first (without it: the oldest, the one most
   * likely to hold the leases).
   */
  killOne(restartAfterMs: number, pick?: (n: number) => number): Promise<boolean>;
  /** Instances running now. */
  readonly running: number;
  readonly started: number;
  readonly crashes: Crash[];
  /** Whether any instance logged `pattern` (a line of its output). */
  logged(pattern: RegExp): boolean;
  /** SIGTERM to all, then SIGKILL after `graceMs`; waits for every exit. */
  stopAll(graceMs?: number): Promise<void>;
}

export function createInstances(configPath: string, env: NodeJS.ProcessEnv): Instances {
  const all: Instance[] = [];
  const crashes: Crash[] = [];
  let stopping = false;
  const restarts = new Set<NodeJS.Timeout>();

  const start = () => {
    const proc = spawnService(configPath, env);
    const instance: Instance = { proc, killed: false, exited: false };
    all.push(instance);
    proc.child.once('exit', (code, signal) => {
      instance.exited = true;
      if (instance.killed || stopping) return;
      crashes.push({ pid: proc.child.pid, code, signal, lastLines: proc.output.slice(-15) });
      // Keep the run going: a crashed instance is replaced, as a supervisor would.
      const timer = setTimeout(() => {
        restarts.delete(timer);
        if (!stopping) start();
      }, 1_000);
      restarts.add(timer);
    });
    // Bounded memory over a long run: the last lines are what a crash report needs.
    const trim = setInterval(() => {
      if (proc.output.length > 2_000) proc.output.splice(0, proc.output.length - 500);
      if (instance.exited) clearInterval(trim);
    }, 5_000);
    trim.unref();
  };

  const running = () => all.filter((i) => !i.exited);

  return {
    start,
    async killOne(restartAfterMs, pick) {
      // A kill that falls while every instance is restarting waits for one (bounded), so the run lands
      // the kills it was asked for.
      for (let waited = 0; running().length === 0 && waited < 15_000 && !stopping; waited += 100) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const live = running();
      const victim = live[pick && live.length > 1 ? pick(live.length) : 0];
      if (!victim) return false;
      victim.killed = true;
      victim.proc.child.kill('SIGKILL');
      await victim.proc.exited;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          restarts.delete(timer);
          if (!stopping) start();
          resolve();
        }, restartAfterMs);
        restarts.add(timer);
      });
      return true;
    },
    get running() {
      return running().length;
    },
    get started() {
      return all.length;
    },
    crashes,
    logged: (pattern) => all.some((i) => i.proc.output.some((l) => pattern.test(l))),
    async stopAll(graceMs = 10_000) {
      stopping = true;
      for (const t of restarts) clearTimeout(t);
      restarts.clear();
      const live = running();
      for (const i of live) {
        i.killed = true;
        i.proc.child.kill('SIGTERM');
      }
      await Promise.all(
        live.map((i) =>
          Promise.race([
            i.proc.exited,
            new Promise((r) => setTimeout(r, graceMs)).then(() => {
              i.proc.child.kill('SIGKILL');
              return i.proc.exited;
            }),
          ]),
        ),
      );
    },
  };
}
