// Retry pacing: exponential backoff with full jitter, Retry-After honoured up to a bound, and a retry
// budget so that a failing upstream sees at most `budgetPercent` extra load from retries (plus a floor
// so low traffic can still retry).
import type { RetryConfig } from '../config/schema.ts';

export function backoffMs(attempt: number, cfg: RetryConfig, random = Math.random): number {
  const cap = Math.min(cfg.maxDelayMs, cfg.baseDelayMs * 2 ** attempt);
  return Math.floor(random() * cap);
}

/** Parse Retry-After (seconds or HTTP date) into milliseconds, or undefined. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Each tenant's retry budget on one route. One budget for the whole route let a tenant whose requests
 * fail (a prompt the upstream refuses with 500, a model it has overloaded) spend every retry of the
 * window, and another tenant's request that met one transient failure was then not retried at all.
 * Each tenant's retries are bounded by its own traffic (plus the floor); the upstream still sees at
 * most `budgetPercent` extra load from each tenant's requests, and the floor once per tenant. The
 * tenant '' (a replica serving one tenant) has one budget. Tenants are the config's namespaces, so
 * the map is bounded by the config.
 */
export class RetryBudgets {
  readonly #byTenant = new Map<string, RetryBudget>();

  of(tenant: string): RetryBudget {
    let b = this.#byTenant.get(tenant);
    if (!b) {
      b = new RetryBudget();
      this.#byTenant.set(tenant, b);
    }
    return b;
  }
}

/** Sliding 10 s window of requests and retries (one tenant's, on one route). */
export class RetryBudget {
  static readonly WINDOW_MS = 10_000;
  static readonly MIN_RETRIES_PER_WINDOW = 10;
  #requests = 0;
  #retries = 0;
  #windowStart: number;

  constructor(now = Date.now()) {
    this.#windowStart = now;
  }

  #roll(now: number): void {
    if (now - this.#windowStart >= RetryBudget.WINDOW_MS) {
      this.#requests = 0;
      this.#retries = 0;
      this.#windowStart = now;
    }
  }

  recordRequest(now = Date.now()): void {
    this.#roll(now);
    this.#requests++;
  }

  /** Take one retry from the budget if there is one. */
  tryRetry(percent: number, now = Date.now()): boolean {
    this.#roll(now);
    const allowed = Math.max(RetryBudget.MIN_RETRIES_PER_WINDOW, (this.#requests * percent) / 100);
    if (this.#retries >= allowed) return false;
    this.#retries++;
    return true;
  }
}
