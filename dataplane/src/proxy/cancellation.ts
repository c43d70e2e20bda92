// A one-shot cancellation for the request path: what it used from AbortController (aborted, reason,
// abort listeners), without EventTarget. Every request made two AbortControllers and added and removed
// two abort listeners; Node's EventTarget (listener records, option parsing, the removal walk) was
// ~2% of a whole request's CPU in the bench profile (issue 16) for listeners that almost never fire.
//
// It is duck-type compatible with AbortSignal where the request path hands a signal on: Node's
// timers/promises (`sleep(ms, v, { signal })`) and events.once(signal, 'abort') only check for
// `aborted` and call add/removeEventListener, so a Cancellation works there as it is. Code that takes
// a signal is typed with `CancelSignal`, which an AbortSignal satisfies too (tests and callers outside
// the request path still pass real ones).

type Listener = (event?: unknown) => void;

/** What the request path reads from a signal: AbortSignal and Cancellation both fit. */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: Listener, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: Listener): void;
}

export class Cancellation implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  /** one listener held as itself (the usual case), more as an array */
  #listeners: Listener | Listener[] | undefined;

  /** The controller is its own signal, so code written for `controller.signal` reads the same. */
  get signal(): Cancellation {
    return this;
  }

  /**
   * Cancels once; later calls do nothing. As with AbortController, the default reason is an
   * AbortError, and a listener that throws does not stop the others: its error is rethrown
   * asynchronously (an uncaught exception, as EventTarget reports it).
   */
  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason =
      reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (typeof listeners === 'function') call(listeners);
    else if (listeners !== undefined) for (const fn of listeners) call(fn);
  }

  /** Every listener runs at most once (an abort happens once); none runs if already aborted. */
  addEventListener(_type: 'abort', listener: Listener): void {
    if (this.aborted) return;
    const l = this.#listeners;
    if (l === undefined) this.#listeners = listener;
    else if (typeof l === 'function') this.#listeners = [l, listener];
    else l.push(listener);
  }

  /** How many listeners wait for the abort (for tests and leak checks). */
  get listenerCount(): number {
    const l = this.#listeners;
    return l === undefined ? 0 : typeof l === 'function' ? 1 : l.length;
  }

  removeEventListener(_type: 'abort', listener: Listener): void {
    const l = this.#listeners;
    if (l === listener) this.#listeners = undefined;
    else if (Array.isArray(l)) {
      const i = l.indexOf(listener);
      if (i >= 0) l.splice(i, 1);
    }
  }
}

function call(fn: Listener): void {
  try {
    fn();
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

/**
 * For Node's timers/promises (`sleep(ms, v, { signal })`), typed for AbortSignal only: at run time it
 * reads `aborted` and `reason` and calls add/removeEventListener, all of which a Cancellation has
 * (cancellation.test.ts checks that a sleep ends at the abort).
 */
export function sleepSignal(signal: CancelSignal): AbortSignal {
  return signal as unknown as AbortSignal;
}
