// Per-provider max concurrency with a bounded FIFO queue. A full queue is an immediate 429, and a queued
// request whose client goes away leaves the queue at once.
import { GatewayError } from '../errors.ts';
import type { CancelSignal } from './cancellation.ts';

export class ConcurrencyLimiter {
  max: number;
  maxQueue: number;
  #active = 0;
  readonly #queue: Array<{
    resolve: () => void;
    reject: (e: unknown) => void;
    signal: CancelSignal;
    onAbort: () => void;
  }> = [];

  constructor(max: number, maxQueue: number) {
    this.max = max;
    this.maxQueue = maxQueue;
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#queue.length;
  }

  async acquire(signal: CancelSignal, provider: string): Promise<void> {
    if (this.#active < this.max) {
      this.#active++;
      return;
    }
    if (this.#queue.length >= this.maxQueue) {
      throw new GatewayError(
        'SLUICE_ERR_QUEUE_FULL',
        `provider '${provider}' is at its concurrency limit (${this.max}) and its queue (${this.maxQueue}) is full`,
        { headers: { 'retry-after': '1' } },
      );
    }
    await new Promise<void>((resolve, reject) => {
      const entry = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.#queue.indexOf(entry);
          if (i >= 0) this.#queue.splice(i, 1);
          reject(signal.reason);
        },
      };
      signal.addEventListener('abort', entry.onAbort, { once: true });
      this.#queue.push(entry);
    });
  }

  release(): void {
    const next = this.#queue.shift();
    if (next) {
      next.signal.removeEventListener('abort', next.onAbort);
      next.resolve();
    } else this.#active--;
  }
}
