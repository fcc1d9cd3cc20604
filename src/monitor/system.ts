import { totalmem } from 'node:os';

export interface SystemSample {
  rssBytes: number;
  /** Memory the process may use: its cgroup limit when there is one, else the machine's RAM. */
  memoryLimitBytes: number;
  memoryRatio: number;
  /** CPU seconds per second since the previous sample; undefined on the first. */
  cpuRatio: number | undefined;
}

/**
 * Memory and CPU of this process, for the v2 MemoryUsage / CPUUsage alerts. CPU is measured in cores,
 * not as a share of the machine: Node runs its JavaScript on one thread, so 1.0 means that thread is
 * saturated (work queues up) however many cores the host has.
 */
export function createSystemSampler() {
  let last: { at: bigint; cpu: NodeJS.CpuUsage } | undefined;

  function memoryLimit(): number {
    const total = totalmem();
    // Node 20 reports the cgroup limit here (0 or a huge number when there is none).
    const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
    return constrained && constrained > 0 && constrained < total ? constrained : total;
  }

  return {
    sample(): SystemSample {
      const now = process.hrtime.bigint();
      const cpu = process.cpuUsage();
      let cpuRatio: number | undefined;
      if (last) {
        const wallUs = Number(now - last.at) / 1_000;
        const usedUs = cpu.user - last.cpu.user + (cpu.system - last.cpu.system);
        if (wallUs > 0) cpuRatio = usedUs / wallUs;
      }
      last = { at: now, cpu };
      const rssBytes = process.memoryUsage.rss();
      const memoryLimitBytes = memoryLimit();
      return { rssBytes, memoryLimitBytes, memoryRatio: rssBytes / memoryLimitBytes, cpuRatio };
    },
  };
}
