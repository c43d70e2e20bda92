// Concurrency turns with a bounded queue, shared by every tenant that uses them (a provider's
// `maxConcurrency`, an endpoint's pooled connections), and so fair between them:
// - no tenant holds more than `tenantMax` turns at once: a turn is not taken back until its request
//   ends, and a stream whose client never reads ends only at the total timeout (10 min), so without
//   the cap one tenant's stalled streams held every turn and the others waited behind them;
// - each tenant waits in its own FIFO, and a freed turn goes to the tenants in turn (round-robin), so
//   a tenant that queued fifty requests delays another tenant's one by a turn, not by fifty;
// - a full queue refuses a newcomer (429) only when its tenant already holds the most places; else the
//   newest waiter of the tenant holding the most gives its place up (429), so one tenant filling the
//   queue cannot lock the others out of a provider they share.
// The tenant '' (a replica serving one tenant) is never capped. A queued request whose client goes
// away leaves the queue at once.
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
  /** turns one tenant may hold at once (not applied to the tenant '') */
  tenantMax: number;
  #active = 0;
  #queued = 0;
  /** turns held per tenant (tenants holding none are not listed) */
  readonly #held = new Map<string, number>();
  /** waiters per tenant; a Map keeps the round-robin order (a served tenant goes to the back) */
  readonly #queues = new Map<string, Waiter[]>();

  constructor(max: number, maxQueue: number, tenantMax = Number.POSITIVE_INFINITY) {
    this.max = max;
    this.maxQueue = maxQueue;
    this.tenantMax = tenantMax;
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#queued;
  }

  /** Turns `tenant` holds now. */
  heldBy(tenant: string): number {
    return this.#held.get(tenant) ?? 0;
  }

  #mayTake(tenant: string): boolean {
    return this.#active < this.max && (tenant === '' || this.heldBy(tenant) < this.tenantMax);
  }

  #take(tenant: string): void {
    this.#active++;
    this.#held.set(tenant, this.heldBy(tenant) + 1);
  }

  /** A turn now without waiting (true), or nothing taken (false). */
  tryAcquire(tenant = ''): boolean {
    if (!this.#mayTake(tenant) || this.#queues.has(tenant)) return false;
    this.#take(tenant);
    return true;
  }

  async acquire(signal: CancelSignal, provider: string, tenant = ''): Promise<void> {
    if (this.tryAcquire(tenant)) return;
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

  /** Gives back a turn `tenant` held, and hands free turns to the waiting tenants in turn. */
  release(tenant = ''): void {
    const held = this.heldBy(tenant);
    if (held <= 1) this.#held.delete(tenant);
    else this.#held.set(tenant, held - 1);
    this.#active--;
    this.#dispatch();
  }

  /** Free turns to the first tenants in turn that may take one; a served tenant goes to the back. */
  #dispatch(): void {
    while (this.#active < this.max && this.#queued > 0) {
      let served: [string, Waiter[]] | undefined;
      for (const entry of this.#queues)
        if (this.#mayTake(entry[0])) {
          served = entry;
          break;
        }
      if (!served) return;
      const [tenant, queue] = served;
      const next = queue.shift() as Waiter;
      this.#queues.delete(tenant);
      if (queue.length > 0) this.#queues.set(tenant, queue);
      this.#queued--;
      next.signal.removeEventListener('abort', next.onAbort);
      this.#take(tenant);
      next.resolve();
    }
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
