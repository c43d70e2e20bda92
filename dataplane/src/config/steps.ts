// Config work that grows with the config (validating and compiling thousands of routes, namespaces
// and API keys) is written once, as generator functions that `yield` between items, and run either
// straight through (`sluice validate`, the operator) or cooperatively by the dataplane's hot reload,
// which hands the event loop back to requests whenever a slice of work has run for a few
// milliseconds. A 1,000-route / 10,000-key config then never stalls a request for the whole load.

/** Work done in steps: each `yield` is a point where it may pause. */
export type Steps<T> = Generator<void, T, void>;

/** Run all steps now, synchronously. */
export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** One turn of the event loop: timers, I/O (new requests, their bodies) and then us again. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs steps in slices of about `budgetMs` of synchronous work. One Slicer is shared by every stage
 * of a load (parse, validate, compile), so a slice never spans a stage boundary unchecked.
 */
export class Slicer {
  readonly budgetMs: number;
  #sliceStart = performance.now();
  /** how many times the work gave the event loop back (for logs and tests) */
  pauses = 0;

  constructor(budgetMs = 5) {
    this.budgetMs = budgetMs;
  }

  /** Give the event loop a turn if the current slice has used its budget. */
  async checkpoint(): Promise<void> {
    if (performance.now() - this.#sliceStart >= this.budgetMs) await this.pause();
  }

  /** Give the event loop a turn now. */
  async pause(): Promise<void> {
    this.pauses++;
    const start = performance.now();
    await yieldToEventLoop();
    // V8 runs a due scavenge as a task in the turn we yielded to, and our setImmediate comes back
    // in that same turn, before timers: a long turn means something (usually that GC) already held
    // the loop, so give timers and I/O one more turn before the next slice piles on top of it.
    if (performance.now() - start > 1) await yieldToEventLoop();
    this.#sliceStart = performance.now();
  }

  /** Run steps, pausing between them whenever the slice budget is used up. */
  async run<T>(steps: Steps<T>): Promise<T> {
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
      if (performance.now() - this.#sliceStart >= this.budgetMs) await this.pause();
    }
  }
}
