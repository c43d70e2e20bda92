// Timing a Redis command on the dataplane's own event loop, without blaming Redis for the loop.
//
// A timer set for 50 ms fires when the loop gets to it: under a burst of requests, or in a pod at its
// CPU limit, that can be hundreds of ms later, and timers run BEFORE the loop reads its sockets, so a
// reply that arrived in time is still unread when the timer fires. ioredis's own commandTimeout
// judges exactly then, which turned a busy replica into "Redis is down". Here a deadline:
//   - is checked only after one more I/O poll (setImmediate runs after it), so a reply already in the
//     socket is read first;
//   - is extended by the loop's own delay: how late this timer fired, and the worst delay Node's
//     monitorEventLoopDelay saw in the last second (what the loop could not spend waiting on Redis);
//   - never stretches past `maxMs`, so a stalled Redis still ends the wait.
// A command that misses its deadline keeps running: the caller gets its promise back to reconcile
// the late outcome (store/redis.ts).
import { type ELDHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

const SAMPLE_MS = 1_000;

/** The event loop's recent delay: max of the last full second and of the current one. */
export class LoopLag {
  readonly #h: ELDHistogram;
  readonly #timer: NodeJS.Timeout;
  #previousMaxMs = 0;

  constructor() {
    this.#h = monitorEventLoopDelay({ resolution: 20 });
    this.#h.enable();
    this.#timer = setInterval(() => {
      this.#previousMaxMs = this.#currentMaxMs();
      this.#h.reset();
    }, SAMPLE_MS);
    this.#timer.unref();
  }

  #currentMaxMs(): number {
    // the histogram reports in ns; with no sample yet its max is 0
    return this.#h.count > 0 ? this.#h.max / 1e6 : 0;
  }

  recentMs(): number {
    return Math.max(this.#previousMaxMs, this.#currentMaxMs());
  }

  close(): void {
    clearInterval(this.#timer);
    this.#h.disable();
  }
}

let shared: { lag: LoopLag; users: number } | undefined;

/** One monitor per process, held while any Redis store exists. */
export function acquireLoopLag(): { lag: LoopLag; release(): void } {
  shared ??= { lag: new LoopLag(), users: 0 };
  shared.users++;
  const held = shared;
  let released = false;
  return {
    lag: held.lag,
    release() {
      if (released) return;
      released = true;
      if (--held.users === 0 && shared === held) {
        held.lag.close();
        shared = undefined;
      }
    },
  };
}

export type Timed<T> = { ok: true; value: T } | { ok: false; timedOut: boolean; error: unknown };

/** A reply that did not come within the late-reply bound: it counts as lost for good. */
export class ReplyLost extends Error {
  constructor(ms: number) {
    super(`Command timed out: no reply within ${Math.round(ms)} ms`);
    this.name = 'ReplyLost';
  }
}

/**
 * `p`, or a ReplyLost rejection once `ms` have passed. The store bounds its commands itself rather
 * than through ioredis's commandTimeout: that arms a timer per command and `delete`s it from the
 * Command on every reply, which measured ~1.4 KiB promoted to the old generation per request (issue
 * 16; store/redis_connect.ts). Here a timer is armed only where something waits without a deadline:
 * an abandoned call's late reply, and the Responses API's records.
 */
export function rejectAfter<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ReplyLost(ms)), ms);
    timer.unref();
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

export class CommandTimeout extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${Math.round(ms)} ms (event-loop delay discounted)`);
    this.name = 'CommandTimeout';
  }
}

/**
 * Waits for `p` for `ms` of time the loop could spend waiting (see above), at most `maxMs` in all.
 * Never rejects: a timeout is { ok: false, timedOut: true } and `p` keeps running.
 */
export function withinDeadline<T>(p: Promise<T>, ms: number, maxMs: number, lag: LoopLag): Promise<Timed<T>> {
  return new Promise((resolve) => {
    const start = performance.now();
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (r: Timed<T>) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      resolve(r);
    };
    p.then(
      (value) => finish({ ok: true, value }),
      (error: unknown) => finish({ ok: false, timedOut: false, error }),
    );
    const arm = (delay: number) => {
      const due = performance.now() + delay;
      timer = setTimeout(() => {
        const late = performance.now() - due;
        setImmediate(() => {
          if (finished) return;
          const elapsed = performance.now() - start;
          const budget = Math.min(maxMs, ms + Math.max(late, lag.recentMs()));
          if (elapsed < budget) arm(Math.max(1, budget - elapsed));
          else finish({ ok: false, timedOut: true, error: new CommandTimeout(elapsed) });
        });
      }, delay);
    };
    arm(ms);
  });
}
