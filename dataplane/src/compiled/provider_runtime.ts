// A provider as the request path uses it: resolved config, translators chosen per client API at load,
// and live state: its endpoints (each with a transport pool, breaker, outstanding count, latency and
// health; see proxy/endpoints.ts), concurrency, outstanding count and latency EWMA per model.
// Live state is kept across config reloads by ProviderRegistry so a reload never drops a pool or
// forgets an ejected endpoint.
import type { EndpointsConfig, ModelConfig } from '../config/schema.ts';
import { modelLabel } from '../observability/model_labels.ts';
import { findTranslator } from '../providers/registry.ts';
import type { ClientApi, ResolvedProvider, Translator } from '../providers/types.ts';
import type { BreakerSettings } from '../proxy/breaker.ts';
import type { CancelSignal } from '../proxy/cancellation.ts';
import { ConcurrencyLimiter } from '../proxy/concurrency.ts';
import { type PickContext, pickerSettings } from '../proxy/endpoint_picker.ts';
import { type Endpoint, EndpointSet } from '../proxy/endpoints.ts';
import { LoadScraper } from '../proxy/load_metrics.ts';
import { MockTransport } from '../proxy/mock_transport.ts';
import { type EffectiveTimeouts, HttpTransport, type Transport } from '../proxy/transport.ts';

const CLIENT_APIS: ClientApi[] = [
  'openai-chat',
  'openai-completions',
  'openai-embeddings',
  'anthropic-messages',
  'openai-responses',
];
const EWMA_ALPHA = 0.3;
const DEFAULT_BREAKER: BreakerSettings = {
  consecutiveFailures: 5,
  baseEjectionMs: 10_000,
  maxEjectionMs: 300_000,
};

export type KubernetesEndpoints = NonNullable<EndpointsConfig['kubernetes']>;

/** Follows a Kubernetes Service's endpoints into a set (discovery/endpointslices.ts). */
export interface EndpointDiscovery {
  start(): void;
  stop(): void;
}

/** Prepares discovery for one provider; throws a ConfigError when it cannot run (no credentials). */
export type DiscoveryFactory = (
  spec: KubernetesEndpoints,
  set: EndpointSet,
  provider: string,
) => EndpointDiscovery;

/** The fixed origins of a provider: its static endpoint list, or its baseUrl's origin. */
function fixedOrigins(resolved: ResolvedProvider): string[] | undefined {
  const e = resolved.config.endpoints;
  if (e?.kubernetes) return undefined;
  if (e?.static) return e.static.map((u) => new URL(u).origin);
  return [resolved.preset.transport === 'mock' ? 'mock' : resolved.origin];
}

/** How an attempt ended, for its endpoint's circuit: `neutral` neither opens nor closes it. */
export type SlotOutcome = 'ok' | 'failure' | 'neutral';

/**
 * One attempt's hold on a provider: its endpoint's circuit slot (taken when the slot is acquired),
 * the outstanding counts, and a concurrency slot once waitTurn() resolved. Everything is given back
 * by one release(), whatever ended the attempt; later calls do nothing.
 */
export class ProviderSlot {
  readonly endpoint: Endpoint;
  readonly #limiter: ConcurrencyLimiter | undefined;
  readonly #leave: () => void;
  /** the tenant whose turns this slot took ('' for a replica serving one tenant) */
  #tenant = '';
  #limited = false;
  #connection = false;
  #released = false;

  constructor(endpoint: Endpoint, limiter: ConcurrencyLimiter | undefined, leave: () => void, tenant = '') {
    this.endpoint = endpoint;
    this.#limiter = limiter;
    this.#leave = leave;
    this.#tenant = tenant;
  }

  get tenant(): string {
    return this.#tenant;
  }

  /**
   * Wait for the provider's concurrency limit, if it has one (SLUICE_ERR_QUEUE_FULL when full), then
   * for the tenant's share of the endpoint's connections. Undefined when nothing had to wait.
   */
  waitTurn(signal: CancelSignal, provider: string): Promise<void> | undefined {
    if (this.#released) return undefined;
    const tenant = this.#tenant;
    const limiter = this.#limiter;
    if (!limiter) return this.#waitConnection(signal, provider);
    if (limiter.tryAcquire(tenant)) {
      this.#limited = true;
      return this.#waitConnection(signal, provider);
    }
    return limiter.acquire(signal, provider, tenant).then(() => {
      // released while queued (the attempt ended): hand the turn straight back
      if (this.#released) limiter.release(tenant);
      else {
        this.#limited = true;
        return this.#waitConnection(signal, provider);
      }
    });
  }

  #waitConnection(signal: CancelSignal, provider: string): Promise<void> | undefined {
    const share = this.endpoint.connections;
    const tenant = this.#tenant;
    if (!share || tenant === '') return undefined;
    if (share.tryAcquire(tenant)) {
      this.#connection = true;
      return undefined;
    }
    return share.acquire(signal, provider, tenant).then(() => {
      if (this.#released) share.release(tenant);
      else this.#connection = true;
    });
  }

  get released(): boolean {
    return this.#released;
  }

  /** `ok` with the attempt's duration closes the circuit and feeds the endpoint's latency average. */
  release(outcome: SlotOutcome, latencyMs?: number): void {
    if (this.#released) return;
    this.#released = true;
    this.#leave();
    const ep = this.endpoint;
    ep.leave();
    if (this.#limited) this.#limiter?.release(this.#tenant);
    if (this.#connection) ep.connections?.release(this.#tenant);
    if (outcome === 'ok') {
      ep.breaker.success();
      if (latencyMs !== undefined) ep.observeLatency(latencyMs);
    } else if (outcome === 'failure') ep.breaker.failure(this.#tenant);
    else ep.breaker.release();
  }
}

export class ProviderRuntime {
  resolved: ResolvedProvider;
  timeouts: EffectiveTimeouts;
  readonly endpoints: EndpointSet;
  #limiter: ConcurrencyLimiter | undefined;
  /** connections of an endpoint one tenant may hold (HTTP providers; none for the in-process mock) */
  #connectionShare: number | undefined;
  translators: Partial<Record<ClientApi, Translator>> = {};
  /** attempts in flight over all endpoints (the route-level least-outstanding strategy) */
  #outstanding = 0;
  readonly #leave = () => {
    this.#outstanding--;
  };
  /** per tenant, per model: one tenant's slow requests must not steer another's (docs/security.md) */
  readonly #ewma = new Map<string, Map<string, number>>();
  #scraper: LoadScraper | undefined;
  #scrapeSettings = '';
  #discovery: EndpointDiscovery | undefined;
  /** started by a serving process's state cache (not a config check) */
  #live = false;

  constructor(resolved: ResolvedProvider, timeouts: EffectiveTimeouts, endpoints: EndpointSet) {
    this.resolved = resolved;
    this.timeouts = timeouts;
    this.endpoints = endpoints;
    this.#applyConfig(resolved);
  }

  get outstanding(): number {
    return this.#outstanding;
  }

  /** the provider's concurrency limit (read-only here: a slot is taken through acquire) */
  get limiter(): Readonly<ConcurrencyLimiter> | undefined {
    return this.#limiter;
  }

  /**
   * Take a slot for one attempt: pick an endpoint (preferring ones not in `tried`) and take its
   * circuit slot, or undefined when no endpoint can take an attempt now. The caller owns the slot
   * and must release it exactly once (proxy/attempt.ts does, on every way an attempt ends).
   */
  acquire(pick: PickContext, tried: ReadonlySet<Endpoint> | undefined): ProviderSlot | undefined {
    const endpoint = this.endpoints.acquire(pick, tried);
    if (!endpoint) return undefined;
    this.#outstanding++;
    endpoint.enter();
    if (this.#connectionShare !== undefined) {
      endpoint.connections ??= new ConcurrencyLimiter(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
      endpoint.connections.tenantMax = this.#connectionShare;
    }
    return new ProviderSlot(endpoint, this.#limiter, this.#leave, pick.tenant);
  }

  /** passes its health check on at least one endpoint (or has none configured) */
  get healthy(): boolean {
    return this.endpoints.anyHealthy();
  }

  /** Could an attempt be sent now (some endpoint healthy with its circuit closed or probing)? */
  available(tenant = ''): boolean {
    return this.endpoints.available(tenant);
  }

  get suspended(): boolean {
    return this.resolved.config.suspended === true;
  }

  get name(): string {
    return this.resolved.name;
  }

  /** Take a new config for the same provider, keeping live state. */
  update(resolved: ResolvedProvider, timeouts: EffectiveTimeouts): void {
    this.resolved = resolved;
    this.timeouts = timeouts;
    this.#applyConfig(resolved);
    const origins = fixedOrigins(resolved);
    if (origins) this.endpoints.setOrigins(origins);
    this.#startScraper();
  }

  /** Start following the endpoints (discovery, load metrics): when the runtime goes live. */
  start(discovery: EndpointDiscovery | undefined): void {
    this.#discovery = discovery;
    this.#live = true;
    discovery?.start();
    this.#startScraper();
  }

  #startScraper(): void {
    // a runtime built only to check a config (no discovery factory) never calls the servers
    if (!this.#live) return;
    const lm = this.resolved.config.endpoints?.loadMetrics;
    const settings = lm ? JSON.stringify(lm) : '';
    if (settings === this.#scrapeSettings) return;
    this.#scrapeSettings = settings;
    if (!lm) {
      this.#scraper?.stop();
      this.#scraper = undefined;
      return;
    }
    this.#scraper ??= new LoadScraper(this.endpoints, lm);
    this.#scraper.start(lm);
  }

  /** Stop discovery and scraping and close every endpoint's pool (after in-flight attempts). */
  async close(): Promise<void> {
    this.#discovery?.stop();
    this.#scraper?.stop();
    await this.endpoints.close();
  }

  #applyConfig(resolved: ResolvedProvider): void {
    this.endpoints.configure(
      resolved.config.circuitBreaker ?? DEFAULT_BREAKER,
      pickerSettings(resolved.config.endpoints),
    );
    const max = resolved.config.maxConcurrency;
    // slots taken before a reload give their turn back to the limiter they came from
    if (max === undefined) this.#limiter = undefined;
    else if (this.#limiter) {
      this.#limiter.max = max;
      this.#limiter.maxQueue = resolved.config.maxQueue;
    } else this.#limiter = new ConcurrencyLimiter(max, resolved.config.maxQueue);
    // With several tenants none may hold more than half of an endpoint's connections (the rest stays
    // for the others, as with the memory budget); the provider's maxConcurrency, which platforms size
    // to a backend's capacity, stays whole for whoever needs it (fair turns and the stalled-reader
    // timeout keep it moving: proxy/concurrency.ts, proxy/stream.ts).
    this.#connectionShare =
      resolved.preset.transport === 'mock' ? undefined : Math.ceil(resolved.config.connections / 2);
    this.translators = {};
    for (const api of CLIENT_APIS) {
      const t = findTranslator(api, resolved.preset.api);
      if (t) this.translators[api] = t;
    }
  }

  modelConfig(model: string): ModelConfig | undefined {
    return this.resolved.models.get(model);
  }

  /** `tenant`: the attempt's ('' on a replica serving one tenant) */
  observeLatency(model: string, ms: number, tenant = ''): void {
    let byModel = this.#ewma.get(tenant);
    if (!byModel) {
      byModel = new Map();
      this.#ewma.set(tenant, byModel);
    }
    // keyed by configured names only (`other` for the rest): clients must not grow this map
    const key = modelLabel(model);
    const prev = byModel.get(key);
    byModel.set(key, prev === undefined ? ms : prev + EWMA_ALPHA * (ms - prev));
  }

  /** Peak-EWMA style: `tenant`'s own latency x the provider's (outstanding + 1); unmeasured scores 0. */
  latencyScore(model: string, tenant = ''): number {
    return (this.#ewma.get(tenant)?.get(modelLabel(model)) ?? 0) * (this.#outstanding + 1);
  }
}

/** Keeps provider runtimes (and so pools and breakers) alive across reloads, keyed by name + origin. */
export class ProviderRegistry {
  readonly #byKey = new Map<string, ProviderRuntime>();

  readonly #discovery: DiscoveryFactory | undefined;

  /**
   * `discovery` is given by a serving dataplane: its runtimes watch EndpointSlices and scrape load
   * metrics. Without it (config checks such as the operator's preflight) they contact nothing.
   */
  constructor(discovery?: DiscoveryFactory) {
    this.#discovery = discovery;
  }

  obtain(resolved: ResolvedProvider, timeouts: EffectiveTimeouts): ProviderRuntime {
    const prepared = this.prepare(resolved, timeouts);
    prepared.apply();
    return prepared.runtime;
  }

  /**
   * The runtime `obtain` returns, without changing anything yet: `apply()` updates a live runtime (or
   * registers a new one). A reload prepares every provider, builds the rest, and applies them when it
   * swaps, so requests still on the old config never see half of a new one.
   */
  prepare(
    resolved: ResolvedProvider,
    timeouts: EffectiveTimeouts,
  ): { runtime: ProviderRuntime; apply(): void } {
    const mock = resolved.preset.transport === 'mock';
    const k8s = resolved.config.endpoints?.kubernetes;
    const source = mock
      ? 'mock'
      : k8s
        ? `k8s:${k8s.namespace}/${k8s.service}:${k8s.port ?? ''}:${k8s.scheme}`
        : resolved.config.endpoints?.static
          ? 'static'
          : resolved.origin;
    const key = `${resolved.name}|${source}|${resolved.config.connections}|${timeouts.connectMs}`;
    const existing = this.#byKey.get(key);
    if (existing && !mock) return { runtime: existing, apply: () => existing.update(resolved, timeouts) };
    const transport: (origin: string) => Transport = mock
      ? () =>
          new MockTransport(
            resolved.config.mock ?? { latencyMs: 0, chunkDelayMs: 0, outputTokens: 16, chunkTokens: 1 },
          )
      : (origin) =>
          new HttpTransport(
            origin,
            resolved.config.connections,
            timeouts.connectMs,
            // pods are checked against the egress policy under their Service's DNS name
            k8s ? `${k8s.service}.${k8s.namespace}.svc.cluster.local` : undefined,
          );
    const origins = fixedOrigins(resolved);
    const set = new EndpointSet({
      provider: resolved.name,
      transport,
      breaker: resolved.config.circuitBreaker ?? DEFAULT_BREAKER,
      picker: pickerSettings(resolved.config.endpoints),
      reportCircuit: resolved.config.endpoints === undefined,
    });
    if (origins) set.setOrigins(origins);
    // without a factory (validation, the operator's render check) nothing is watched; a serving
    // dataplane always has one, and it throws when it cannot run (no credentials)
    const discovery = k8s ? this.#discovery?.(k8s, set, resolved.name) : undefined;
    const rt = new ProviderRuntime(resolved, timeouts, set);
    return {
      runtime: rt,
      apply: () => {
        // mock settings may change on reload; keep breaker semantics simple by replacing the runtime
        if (existing) this.#byKey.delete(key);
        this.#byKey.set(key, rt);
        if (this.#discovery) rt.start(discovery);
      },
    };
  }

  /** Close pools no longer referenced by the live config (after in-flight requests finish). */
  async prune(live: Set<ProviderRuntime>): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [key, rt] of this.#byKey) {
      if (!live.has(rt)) {
        this.#byKey.delete(key);
        closing.push(rt.close().catch(() => {}));
      }
    }
    await Promise.all(closing);
  }

  async closeAll(): Promise<void> {
    await this.prune(new Set());
  }
}
