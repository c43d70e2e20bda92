// Per-provider max concurrency with a bounded queue, shared by every tenant that routes to the
// provider, and so fair between them:
// - each tenant (namespace) waits in its own FIFO, and a freed turn goes to the tenants in turn
//   (round-robin), so a tenant that queued fifty requests delays another tenant's one by a turn, not by
//   fifty;
// - a full queue refuses a newcomer (429) only when its tenant already holds the most places; else the
//   newest waiter of the tenant holding the most gives its place up (429), so one tenant filling the
//   queue cannot lock the others out of a provider they share.
// A queued request whose client goes away leaves the queue at once.
import { GatewayError } from '../errors.ts';
import type { CancelSignal } from './cancellation.ts';

interface Waiter {
  tenant: string;
  resolve: () => void;
  reject: (e: unknown) => void;
  signal: CancelSignal;
  onAbort: () => void;
}

export class ConcurrencyLimiter {
  max: number;
  maxQueue: number;
  #active = 0;
  #queued = 0;
  /** waiters per tenant; a Map keeps the round-robin order (a served tenant goes to the back) */
  readonly #queues = new Map<string, Waiter[]>();

  constructor(max: number, maxQueue: number) {
    this.max = max;
    this.maxQueue = maxQueue;
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#queued;
  }

  async acquire(signal: CancelSignal, provider: string, tenant = ''): Promise<void> {
    if (this.#active < this.max) {
      this.#active++;
      return;
    }
    if (this.#queued >= this.maxQueue) {
      const [holder, waiting] = this.#largest();
      const mine = this.#queues.get(tenant)?.length ?? 0;
      // the newcomer's tenant already holds the most (or nobody waits: maxQueue 0): refused
      if (!waiting || mine + 1 >= waiting.length) throw this.#full(provider);
      const pushedOut = waiting[waiting.length - 1] as Waiter;
      this.#remove(holder, pushedOut);
      pushedOut.reject(this.#full(provider));
    }
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        tenant,
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.#remove(tenant, waiter);
          reject(signal.reason);
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      const queue = this.#queues.get(tenant);
      if (queue) queue.push(waiter);
      else this.#queues.set(tenant, [waiter]);
      this.#queued++;
    });
  }

  release(): void {
    // the tenant first in turn; it goes to the back of the turn if it still has waiters
    const first = this.#queues.entries().next().value as [string, Waiter[]] | undefined;
    if (!first) {
      this.#active--;
      return;
    }
    const [tenant, queue] = first;
    const next = queue.shift() as Waiter;
    this.#queues.delete(tenant);
    if (queue.length > 0) this.#queues.set(tenant, queue);
    this.#queued--;
    next.signal.removeEventListener('abort', next.onAbort);
    next.resolve();
  }

  #full(provider: string): GatewayError {
    return new GatewayError(
      'SLUICE_ERR_QUEUE_FULL',
      `provider '${provider}' is at its concurrency limit (${this.max}) and its queue (${this.maxQueue}) is full`,
      { headers: { 'retry-after': '1' } },
    );
  }

  #remove(tenant: string, waiter: Waiter): void {
    const queue = this.#queues.get(tenant);
    const i = queue ? queue.indexOf(waiter) : -1;
    if (!queue || i < 0) return;
    queue.splice(i, 1);
    this.#queued--;
    waiter.signal.removeEventListener('abort', waiter.onAbort);
    if (queue.length === 0) this.#queues.delete(tenant);
  }

  /** The tenant with the most waiters (none when nobody waits). */
  #largest(): [string, Waiter[] | undefined] {
    let best: [string, Waiter[] | undefined] = ['', undefined];
    for (const [tenant, queue] of this.#queues)
      if (!best[1] || queue.length > best[1].length) best = [tenant, queue];
    return best;
  }
}
