import { describe, expect, it } from 'vitest';
import { createWaker } from './wake.js';

describe('createWaker', () => {
  it('ends a wait at the stop, and a wait begun after the stop at once', async () => {
    const stop = new AbortController();
    const waker = createWaker(stop.signal);
    const waiting = waker.wait(60_000);
    stop.abort();
    await waiting;
    // A loop that looks once more after the stop (the sweeper's last round) must not wait a whole interval.
    await expect(waker.wait(60_000)).resolves.toBeUndefined();
  });

  it('keeps a wake-up given while the loop was busy', async () => {
    const waker = createWaker(new AbortController().signal);
    waker.wake();
    await expect(waker.wait(60_000)).resolves.toBeUndefined();
  });
});
