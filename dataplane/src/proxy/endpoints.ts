// The endpoints (pods) behind one provider, each with its own connection pool, circuit breaker,
// outstanding count, latency average, health and scraped load. A provider with a plain baseUrl is a
// set of one; a provider with `endpoints` follows a static list or a Kubernetes Service's
// EndpointSlices (discovery/endpointslices.ts). Every attempt picks one endpoint (endpoint_picker.ts),
// so one sick pod is ejected while its siblings keep serving.
import { type BreakerSettings, CircuitBreaker } from './breaker.ts';
import type { ConcurrencyLimiter } from './concurrency.ts';
import { type PickContext, type PickerSettings, pickEndpoint } from './endpoint_picker.ts';
import type { Transport } from './transport.ts';

const EWMA_ALPHA = 0.3;

/** FNV-1a over a string: the endpoint's identity in rendezvous hashing (prefix affinity). */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Endpoint {
  readonly origin: string;
  readonly transport: Transport;
  readonly breaker: CircuitBreaker;
  /**
   * Each tenant's share of this endpoint's pooled connections (set by ProviderRuntime for HTTP
   * providers): requests past a tenant's half wait here rather than in the pool's queue, where they
   * would be ahead of other tenants' requests (proxy/concurrency.ts).
   */
  connections: ConcurrencyLimiter | undefined;
  readonly hash: number;
  /** attempts sent to this endpoint by this replica and not finished (changed by enter/leave only) */
  #outstanding = 0;
  /** active health check verdict (true when none is configured) */
  #healthy = true;
  #probeFailures = 0;
  #probeSuccesses = 0;
  /** moving average of attempt durations in ms; 0 until measured */
  latencyMs = 0;
  /** the server's own load, from its metrics (load_metrics.ts); valid while loadAt is recent */
  queue = 0;
  running = 0;
  kvUsage = 0;
  loadAt = 0;
  /** left the set (pod gone); in-flight attempts finish, nothing new is sent */
  removed = false;

  constructor(origin: string, transport: Transport, breaker: CircuitBreaker) {
    this.origin = origin;
    this.transport = transport;
    this.breaker = breaker;
    this.hash = hashString(origin);
  }

  get outstanding(): number {
    return this.#outstanding;
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  /** An attempt starts here (ProviderRuntime.acquire); every enter is matched by one leave. */
  enter(): void {
    this.#outstanding++;
  }

  leave(): void {
    this.#outstanding--;
  }

  /** No health check configured (any more): the endpoint counts as healthy. */
  setHealthy(): void {
    this.#healthy = true;
    this.#probeFailures = 0;
    this.#probeSuccesses = 0;
  }

  /**
   * One health probe's result; the verdict flips after `healthyAfter` successes or `unhealthyAfter`
   * failures in a row. Returns the new verdict when it flipped, else undefined.
   */
  recordProbe(ok: boolean, healthyAfter: number, unhealthyAfter: number): boolean | undefined {
    if (ok) {
      this.#probeFailures = 0;
      this.#probeSuccesses++;
      if (!this.#healthy && this.#probeSuccesses >= healthyAfter) {
        this.#healthy = true;
        return true;
      }
    } else {
      this.#probeSuccesses = 0;
      this.#probeFailures++;
      if (this.#healthy && this.#probeFailures >= unhealthyAfter) {
        this.#healthy = false;
        return false;
      }
    }
    return undefined;
  }

  /** May an attempt of `tenant` go here now (healthy, circuit closed or a half-open probe free)? */
  usable(tenant = ''): boolean {
    return this.healthy && !this.removed && this.breaker.available(tenant);
  }

  observeLatency(ms: number): void {
    this.latencyMs = this.latencyMs === 0 ? ms : this.latencyMs + EWMA_ALPHA * (ms - this.latencyMs);
  }
}

export interface EndpointSetOptions {
  provider: string;
  transport: (origin: string) => Transport;
  breaker: BreakerSettings;
  picker: PickerSettings;
  /**
   * A provider with one fixed endpoint (baseUrl) reports its breaker as the provider's circuit
   * (sluice_circuit_state{provider}); pods come and go, so theirs are counted in sluice_endpoints.
   */
  reportCircuit: boolean;
}

export class EndpointSet {
  readonly provider: string;
  /** current members, in the order they were added */
  list: Endpoint[] = [];
  picker: PickerSettings;
  #breaker: BreakerSettings;
  readonly #transport: (origin: string) => Transport;
  readonly #reportCircuit: boolean;
  readonly #byOrigin = new Map<string, Endpoint>();
  readonly #closing = new Set<Promise<void>>();
  /** round-robin position */
  cursor = 0;

  constructor(opts: EndpointSetOptions) {
    this.provider = opts.provider;
    this.picker = opts.picker;
    this.#breaker = opts.breaker;
    this.#transport = opts.transport;
    this.#reportCircuit = opts.reportCircuit;
  }

  configure(breaker: BreakerSettings, picker: PickerSettings): void {
    this.#breaker = breaker;
    this.picker = picker;
    for (const ep of this.list) ep.breaker.settings = breaker;
  }

  /**
   * Make the members exactly `origins`: new ones get a pool and a closed circuit, surviving ones keep
   * all their state, removed ones take no new attempts and close their pool once in-flight ones end.
   */
  setOrigins(origins: Iterable<string>): { added: number; removed: number } {
    const wanted = new Set(origins);
    let added = 0;
    let removed = 0;
    const next: Endpoint[] = [];
    for (const ep of this.list) {
      if (wanted.has(ep.origin)) next.push(ep);
      else {
        ep.removed = true;
        this.#byOrigin.delete(ep.origin);
        removed++;
        // undici's close() waits for requests already running on the pool
        const closing = ep.transport.close().catch(() => {});
        this.#closing.add(closing);
        void closing.then(() => this.#closing.delete(closing));
      }
    }
    for (const origin of wanted) {
      if (this.#byOrigin.has(origin)) continue;
      const label = this.#reportCircuit ? this.provider : undefined;
      const ep = new Endpoint(origin, this.#transport(origin), new CircuitBreaker(label, this.#breaker));
      this.#byOrigin.set(origin, ep);
      next.push(ep);
      added++;
    }
    this.list = next;
    return { added, removed };
  }

  /** Is any endpoint able to take an attempt (of `tenant`) now? */
  available(tenant = ''): boolean {
    for (const ep of this.list) if (ep.usable(tenant)) return true;
    return false;
  }

  /** Is there a usable endpoint this request has not tried (a sibling to retry on)? */
  hasUntried(tried: ReadonlySet<Endpoint> | undefined, tenant = ''): boolean {
    if (this.list.length < 2) return false;
    for (const ep of this.list) if (ep.usable(tenant) && !tried?.has(ep)) return true;
    return false;
  }

  /** Does any endpoint pass its health check (providers without one always do)? */
  anyHealthy(): boolean {
    for (const ep of this.list) if (ep.healthy) return true;
    return false;
  }

  /**
   * Pick an endpoint for one attempt and take its circuit slot, preferring endpoints this request has
   * not tried yet (a retry goes to a sibling), or undefined when none can take it.
   */
  acquire(ctx: PickContext, tried: ReadonlySet<Endpoint> | undefined): Endpoint | undefined {
    // a half-open circuit lets one probe through: losing that race just means picking again
    for (let round = 0; round < 3; round++) {
      const ep =
        pickEndpoint(this, ctx, tried, false) ??
        (tried?.size ? pickEndpoint(this, ctx, tried, true) : undefined);
      if (!ep) return undefined;
      if (ep.breaker.tryAcquire(ctx.tenant)) return ep;
    }
    return undefined;
  }

  counts(): { ready: number; ejected: number; unhealthy: number } {
    let ready = 0;
    let ejected = 0;
    let unhealthy = 0;
    for (const ep of this.list) {
      if (!ep.healthy) unhealthy++;
      else if (ep.breaker.state === 'open') ejected++;
      else ready++;
    }
    return { ready, ejected, unhealthy };
  }

  async close(): Promise<void> {
    const list = this.list;
    this.list = [];
    this.#byOrigin.clear();
    for (const ep of list) ep.removed = true;
    await Promise.all([...list.map((ep) => ep.transport.close().catch(() => {})), ...this.#closing]);
  }
}
