// A provider as the request path uses it: resolved config, translators chosen per client API at load,
// and live state (transport pool, breaker, concurrency, outstanding count, latency EWMA, health).
// Live state is kept across config reloads by ProviderStateCache so a reload never drops a pool or
// forgets an ejected provider.
import type { ModelConfig } from '../config/schema.ts';
import { findTranslator } from '../providers/registry.ts';
import type { ClientApi, ResolvedProvider, Translator } from '../providers/types.ts';
import { CircuitBreaker } from '../proxy/breaker.ts';
import { ConcurrencyLimiter } from '../proxy/concurrency.ts';
import { MockTransport } from '../proxy/mock_transport.ts';
import { type EffectiveTimeouts, HttpTransport, type Transport } from '../proxy/transport.ts';

const CLIENT_APIS: ClientApi[] = [
  'openai-chat',
  'openai-completions',
  'openai-embeddings',
  'anthropic-messages',
];
const EWMA_ALPHA = 0.3;

export class ProviderRuntime {
  resolved: ResolvedProvider;
  timeouts: EffectiveTimeouts;
  readonly transport: Transport;
  readonly breaker: CircuitBreaker;
  limiter: ConcurrencyLimiter | undefined;
  translators: Partial<Record<ClientApi, Translator>> = {};
  outstanding = 0;
  healthy = true;
  readonly #ewma = new Map<string, number>();

  constructor(resolved: ResolvedProvider, timeouts: EffectiveTimeouts, transport: Transport) {
    this.resolved = resolved;
    this.timeouts = timeouts;
    this.transport = transport;
    const cb = resolved.config.circuitBreaker ?? {
      consecutiveFailures: 5,
      baseEjectionMs: 10_000,
      maxEjectionMs: 300_000,
    };
    this.breaker = new CircuitBreaker(resolved.name, cb);
    this.#applyConfig(resolved);
  }

  get name(): string {
    return this.resolved.name;
  }

  /** Take a new config for the same provider, keeping live state. */
  update(resolved: ResolvedProvider, timeouts: EffectiveTimeouts): void {
    this.resolved = resolved;
    this.timeouts = timeouts;
    if (resolved.config.circuitBreaker) this.breaker.settings = resolved.config.circuitBreaker;
    this.#applyConfig(resolved);
  }

  #applyConfig(resolved: ResolvedProvider): void {
    const max = resolved.config.maxConcurrency;
    if (max === undefined) this.limiter = undefined;
    else if (this.limiter) {
      this.limiter.max = max;
      this.limiter.maxQueue = resolved.config.maxQueue;
    } else this.limiter = new ConcurrencyLimiter(max, resolved.config.maxQueue);
    this.translators = {};
    for (const api of CLIENT_APIS) {
      const t = findTranslator(api, resolved.preset.api);
      if (t) this.translators[api] = t;
    }
  }

  modelConfig(model: string): ModelConfig | undefined {
    return this.resolved.models.get(model);
  }

  observeLatency(model: string, ms: number): void {
    const prev = this.#ewma.get(model);
    this.#ewma.set(model, prev === undefined ? ms : prev + EWMA_ALPHA * (ms - prev));
  }

  /** Peak-EWMA style score: latency x (outstanding + 1). Unmeasured backends score 0 so they get tried. */
  latencyScore(model: string): number {
    return (this.#ewma.get(model) ?? 0) * (this.outstanding + 1);
  }
}

/** Keeps provider runtimes (and so pools and breakers) alive across reloads, keyed by name + origin. */
export class ProviderStateCache {
  readonly #byKey = new Map<string, ProviderRuntime>();

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
    const key = `${resolved.name}|${mock ? 'mock' : resolved.origin}|${resolved.config.connections}|${timeouts.connectMs}`;
    const existing = this.#byKey.get(key);
    if (existing && !mock) return { runtime: existing, apply: () => existing.update(resolved, timeouts) };
    const transport = mock
      ? new MockTransport(
          resolved.config.mock ?? { latencyMs: 0, chunkDelayMs: 0, outputTokens: 16, chunkTokens: 1 },
        )
      : new HttpTransport(resolved.origin, resolved.config.connections, timeouts.connectMs);
    const rt = new ProviderRuntime(resolved, timeouts, transport);
    return {
      runtime: rt,
      apply: () => {
        // mock settings may change on reload; keep breaker semantics simple by replacing the runtime
        if (existing) this.#byKey.delete(key);
        this.#byKey.set(key, rt);
      },
    };
  }

  /** Close pools no longer referenced by the live config (after in-flight requests finish). */
  async prune(live: Set<ProviderRuntime>): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [key, rt] of this.#byKey) {
      if (!live.has(rt)) {
        this.#byKey.delete(key);
        closing.push(rt.transport.close().catch(() => {}));
      }
    }
    await Promise.all(closing);
  }

  async closeAll(): Promise<void> {
    await this.prune(new Set());
  }
}
