// Request rates a tenant has run out of, remembered until they refill, so its next requests are
// refused from the headers alone, before the body is read (proxy/intake.ts). Without this, a tenant at
// its `requests` limit still made the replica read, parse and validate every 10 MB body it sent, only
// to answer 429: its neighbours on the replica waited for those parses (median latency 1 ms -> 160 ms
// in test/adversarial/tenant_attacks.test.ts's measurement), so the limit protected nobody.
//
// Only a denial that any request of the same caller would get is remembered: a GCRA bucket refills at
// a fixed rate, so until `retryAfterMs` passes no request of the namespace (or of the API key, for a
// per-key policy) fits, whatever its body; a policy scoped to some routes or models is not remembered
// (the next request may go elsewhere). One instance per loaded config: a reload forgets them all.
// A denial holds only while the store answers the way it did when it was given: one the local
// fallback gave during a Redis outage (from this replica's share of the limit) is forgotten when Redis
// is back, where the shared bucket may admit at once, and one Redis gave is forgotten when the
// fallback takes over. Remembered across the switch, a denial from the outage refused the tenant for
// the rest of the window after Redis had recovered (test/policy/redis_outage.test.ts).
import type { GatewayError } from '../errors.ts';
import type { Identity } from '../proxy/policy_interface.ts';
import { ANONYMOUS_CALLER } from './caller.ts';
import type { CompiledPolicy } from './compile.ts';

/** Remembered denials at most; past it, expired ones are swept and new ones not remembered. */
const MAX_ENTRIES = 10_000;

interface Denial {
  until: number;
  /** the store's mode when it refused (StoreHealth.mode) */
  mode: string;
  /** the 429 the admission gave, for the time that is left */
  refusal(retryAfterMs: number): GatewayError;
}

/** a namespace's own entry, or one of its callers' (Identity.caller: distinct across sources) */
function keyOf(namespace: string, caller: string | undefined): string {
  return caller === undefined ? namespace : `${namespace}\0${caller}`;
}

export class RateDenials {
  readonly #denials = new Map<string, Denial>();
  readonly #mode: () => string;

  /** `mode`: the store's current mode, asked only when a denial is noted or found */
  constructor(mode: () => string = () => 'local') {
    this.#mode = mode;
  }

  /** The admission of this caller was refused by `policy`'s request rate for `retryAfterMs`. */
  note(
    identity: Identity,
    policy: CompiledPolicy,
    retryAfterMs: number,
    now: number,
    refusal: Denial['refusal'],
  ): void {
    const scope = policy.config.scope;
    if (scope?.routes || scope?.models || retryAfterMs <= 0) return;
    const key = keyOf(
      identity.namespace,
      scope?.perApiKey ? (identity.caller ?? ANONYMOUS_CALLER) : undefined,
    );
    if (!this.#denials.has(key) && this.#denials.size >= MAX_ENTRIES) {
      for (const [k, d] of this.#denials) if (d.until <= now) this.#denials.delete(k);
      if (this.#denials.size >= MAX_ENTRIES) return;
    }
    const known = this.#denials.get(key);
    if (!known || known.until < now + retryAfterMs)
      this.#denials.set(key, { until: now + retryAfterMs, mode: this.#mode(), refusal });
  }

  /** Nothing remembered (then no caller is refused, and the clock need not be read). */
  get empty(): boolean {
    return this.#denials.size === 0;
  }

  /** The 429 this caller would get from its admission now, or undefined when it may try. */
  refusal(identity: Identity, now: number): GatewayError | undefined {
    if (this.#denials.size === 0) return undefined;
    return (
      this.#check(keyOf(identity.namespace, undefined), now) ??
      this.#check(keyOf(identity.namespace, identity.caller ?? ANONYMOUS_CALLER), now)
    );
  }

  #check(key: string, now: number): GatewayError | undefined {
    const d = this.#denials.get(key);
    if (!d) return undefined;
    if (d.until <= now || d.mode !== this.#mode()) {
      this.#denials.delete(key);
      return undefined;
    }
    return d.refusal(d.until - now);
  }
}
