/**
 * Wakes a worker loop: `wait(ms)` resolves after `ms`, at once when `wake()` was called since the last
 * wait (so no wake-up is lost while the loop was busy), or when `stop` aborts.
 */
export function createWaker(stop: AbortSignal) {
  let pending = false;
  let wakeNow: (() => void) | undefined;
  return {
    wake() {
      pending = true;
      wakeNow?.();
    },
    async wait(ms: number): Promise<void> {
      // After the stop, the abort event has fired already: a wait begun then would last all `ms`.
      if (!pending && !stop.aborted) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, ms);
          wakeNow = done;
          stop.addEventListener('abort', done, { once: true });
          function done() {
            clearTimeout(timer);
            stop.removeEventListener('abort', done);
            wakeNow = undefined;
            resolve();
          }
        });
      }
      pending = false;
    },
  };
}
