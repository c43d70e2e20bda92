// Per-provider circuit breaker (outlier ejection): after N consecutive failures the provider is ejected
// for an exponentially growing time; when that passes one probe request is let through (half-open) and
// its outcome closes the circuit or ejects again.
//
// Between tenants: a run of failures that all came from ONE tenant ejects the provider for that tenant
// only; for the others the circuit is half-open (one probe at a time), so the first of them to get
// through closes it, and its failure (a second tenant failing) ejects the provider for everybody. A
// tenant could otherwise eject a backend it shares with the others with requests that fail upstream
// on their own (a prompt a self-hosted server takes longer than the first-byte timeout to prefill, an
// input it answers with 500), and every other tenant got 503 for the ejection time. The tenant ''
// (a replica serving one tenant) has nobody to share with.
import { metrics } from '../observability/metrics.ts';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface BreakerSettings {
  consecutiveFailures: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
}

const STATE_VALUE: Record<CircuitState, number> = { closed: 0, open: 1, 'half-open': 2 };

export class CircuitBreaker {
  settings: BreakerSettings;
  /** the provider label of sluice_circuit_state, or undefined for a pod's breaker (not reported there) */
  readonly #label: string | undefined;
  #failures = 0;
  #ejections = 0;
  #openUntil = 0;
  #probeInFlight = false;
  #state: CircuitState = 'closed';
  /** tenants whose failures make up the current run (since the last success) */
  readonly #failing = new Set<string>();
  /** the one tenant whose failures alone ejected the provider, if so */
  #ejectedFor: string | undefined;

  constructor(label: string | undefined, settings: BreakerSettings) {
    this.#label = label;
    this.settings = settings;
    if (label !== undefined) metrics.circuitState.set({ provider: label }, 0);
  }

  get state(): CircuitState {
    if (this.#state === 'open' && Date.now() >= this.#openUntil) this.#set('half-open');
    return this.#state;
  }

  /** The state `tenant` sees: half-open where only another tenant's failures opened it. */
  #stateFor(tenant: string): CircuitState {
    const s = this.state;
    return s === 'open' && this.#ejectedFor !== undefined && this.#ejectedFor !== tenant ? 'half-open' : s;
  }

  /** May a request go to this provider now? In half-open state only one probe at a time. */
  tryAcquire(tenant = ''): boolean {
    const s = this.#stateFor(tenant);
    if (s === 'closed') return true;
    if (s === 'open' || this.#probeInFlight) return false;
    this.#probeInFlight = true;
    return true;
  }

  /** Is the half-open probe slot taken (by an attempt that has not ended)? Read-only, for invariant tests. */
  get probing(): boolean {
    return this.#probeInFlight;
  }

  /** Would tryAcquire succeed (without taking the probe slot)? Used to order backends. */
  available(tenant = ''): boolean {
    const s = this.#stateFor(tenant);
    return s === 'closed' || (s === 'half-open' && !this.#probeInFlight);
  }

  success(): void {
    this.#failures = 0;
    this.#failing.clear();
    this.#ejectedFor = undefined;
    this.#probeInFlight = false;
    if (this.#state !== 'closed') {
      this.#ejections = 0;
      this.#set('closed');
    }
  }

  failure(tenant = ''): void {
    this.#failures++;
    this.#failing.add(tenant);
    const wasProbe = this.#probeInFlight;
    this.#probeInFlight = false;
    if (wasProbe || this.#state === 'half-open' || this.#failures >= this.settings.consecutiveFailures) {
      this.#ejections++;
      const ms = Math.min(
        this.settings.maxEjectionMs,
        this.settings.baseEjectionMs * 2 ** (this.#ejections - 1),
      );
      this.#openUntil = Date.now() + ms;
      this.#failures = 0;
      this.#ejectedFor = this.#failing.size === 1 && !this.#failing.has('') ? tenant : undefined;
      this.#set('open');
    }
  }

  /** A request that was let through ended without telling us about the provider (e.g. client abort). */
  release(): void {
    this.#probeInFlight = false;
  }

  #set(s: CircuitState): void {
    this.#state = s;
    if (this.#label !== undefined) metrics.circuitState.set({ provider: this.#label }, STATE_VALUE[s]);
  }
}
