// The policy engine behind the core's Gate seam: namespaces (who), authorization (what they may use),
// admission (limits, budgets, caps), the response cache and store health for /readyz.
// Built once per config load; the store it uses comes from a registry that outlives reloads, so a
// reload never resets a counter.
import type { ClientApiSpec } from '../api/types.ts';
import { responseCacheKey } from '../cache/key.ts';
import { ResponseCache } from '../cache/response_cache.ts';
import type { CompileOptions } from '../compiled/compile.ts';
import type { CompiledRoute } from '../compiled/route.ts';
import type { ReuseCache } from '../config/reuse_cache.ts';
import type { SecretSource, SluiceConfig } from '../config/schema.ts';
import { Slicer } from '../config/steps.ts';
import { GatewayError } from '../errors.ts';
import { unknownModel } from '../proxy/find_route.ts';
import type { Admission, AdmitInput, Gate, Identity, RequestHeaders } from '../proxy/policy_interface.ts';
import type { StoreLogger } from '../store/redis.ts';
import { type StoreLease, StoreRegistry } from '../store/registry.ts';
import type { Store } from '../store/types.ts';
import { admitRequest } from './admit.ts';
import { type CompiledNamespace, compileNamespaceSteps } from './compile.ts';
import { Identifier } from './identify.ts';
import { PriceBook } from './pricing.ts';
import { RateDenials } from './rate_denials.ts';
import { admitRequestRate } from './request_rate.ts';

type ReadSecret = (s: SecretSource, path?: string) => string;

export class PolicyGate implements Gate {
  readonly #namespaces: Map<string, CompiledNamespace>;
  readonly #identifier: Identifier;
  readonly #lease: StoreLease;
  readonly #prices: PriceBook;
  readonly #cache: ResponseCache;
  readonly #now: () => number;
  readonly #denials: RateDenials;

  constructor(
    cfg: SluiceConfig,
    namespaces: Map<string, CompiledNamespace>,
    identifier: Identifier,
    lease: StoreLease,
    previous?: PolicyGate,
    now: () => number = Date.now,
  ) {
    this.#namespaces = namespaces;
    this.#identifier = identifier;
    this.#lease = lease;
    this.#denials = new RateDenials(() => lease.store.health().mode);
    this.#prices = new PriceBook(cfg);
    // Keep the warm L1 across a reload when the cache bounds and the store are unchanged.
    const keep =
      previous &&
      previous.#cacheBounds === JSON.stringify(cfg.cache) &&
      previous.#lease.store === lease.store;
    this.#cache = new ResponseCache(cfg.cache, lease.store, keep ? previous.#cache.l1 : undefined);
    this.#cacheBounds = JSON.stringify(cfg.cache);
    this.#now = now;
  }

  readonly #cacheBounds: string;

  #ns(identity: Identity): CompiledNamespace {
    const ns = this.#namespaces.get(identity.namespace);
    // Identities only ever name configured namespaces; anything else is a bug, not a client error.
    if (!ns) throw new GatewayError('SLUICE_ERR_INTERNAL', `unknown namespace '${identity.namespace}'`);
    return ns;
  }

  identify(headers: RequestHeaders): Identity | Promise<Identity> {
    return this.#identifier.identify(headers);
  }

  /** The reason a namespace may not use a route/model, or undefined when it may. */
  #denied(ns: CompiledNamespace, route: CompiledRoute, model: string): string | undefined {
    if (!ns.routeAllowed(route.name)) return `namespace '${ns.name}' may not use route '${route.name}'`;
    if (!ns.modelAllowed(model)) return `namespace '${ns.name}' may not use model '${model}'`;
    for (const p of ns.policies) {
      if (p.modelAllowed && p.appliesTo(route.name, model) && !p.modelAllowed(model))
        return `model '${model}' is not allowed by policy '${p.name}' of namespace '${ns.name}'`;
    }
    return undefined;
  }

  mayUseRoute(identity: Identity, route: CompiledRoute): boolean {
    return this.#ns(identity).routeAllowed(route.name);
  }

  authorize(identity: Identity, route: CompiledRoute, model: string): void {
    const ns = this.#ns(identity);
    // Another tenant's route: answered as a model that does not exist (as /v1/models lists it), never
    // a 403 that names the route and confirms the model is served here.
    if (!ns.routeAllowed(route.name)) throw unknownModel(model);
    const reason = this.#denied(ns, route, model);
    if (reason) throw new GatewayError('SLUICE_ERR_FORBIDDEN', reason, { param: 'model' });
  }

  visibleModel(identity: Identity, route: CompiledRoute, model: string): boolean {
    return this.#denied(this.#ns(identity), route, model) === undefined;
  }

  #cacheKey = (
    ns: CompiledNamespace,
    route: CompiledRoute,
    spec: ClientApiSpec,
    body: Record<string, unknown>,
  ): string | undefined => {
    const r = route.config.cache;
    const n = ns.config.cache;
    // Opt-in: the route enables it for every namespace, or the namespace for every route it uses.
    if (!r?.enabled && !n?.enabled) return undefined;
    const ttlSeconds = n?.ttlSeconds ?? r?.ttlSeconds ?? 300;
    return responseCacheKey({ namespace: ns.name, route: route.name, api: spec.api, body, ttlSeconds });
  };

  admit(input: AdmitInput): Promise<Admission> {
    return admitRequest(
      {
        ns: this.#ns(input.identity),
        store: this.#lease.store,
        prices: this.#prices,
        cacheKey: this.#cacheKey,
        now: this.#now,
        denials: this.#denials,
      },
      input,
    );
  }

  admitRequestRate(identity: Identity): Promise<void> {
    return admitRequestRate(
      { ns: this.#ns(identity), store: this.#lease.store, denials: this.#denials, now: this.#now },
      identity,
    );
  }

  chargeRefused(identity: Identity, status: number, param?: string | null): void {
    // the caller's refusals only (a 5xx is a failure of ours or an upstream's), and not a spent
    // request rate's own 429: charging that again would change nothing
    if (status < 400 || status >= 500 || (status === 429 && param === 'requests')) return;
    // the refused request already has its answer: a 429 here only matters for the next ones, which
    // deniedByStore remembers; a store that cannot answer charges nothing (the request was refused)
    this.admitRequestRate(identity).catch(() => {});
  }

  refuseBeforeBody(identity: Identity): GatewayError | undefined {
    // every request asks: the clock is read only when some caller is remembered
    return this.#denials.empty ? undefined : this.#denials.refusal(identity, this.#now());
  }

  get records(): Store {
    return this.#lease.store;
  }

  cacheGet(key: string): Promise<Buffer | undefined> {
    return this.#cache.get(key);
  }

  cacheSet(key: string, body: Buffer | string): Promise<void> {
    return this.#cache.set(key, body);
  }

  async warm(): Promise<void> {
    await this.#lease.store.warm?.();
  }

  health(): Record<string, unknown> {
    return {
      namespaces: this.#namespaces.size,
      store: this.#lease.store.health(),
      cache: this.#cache.stats(),
    };
  }

  close(): Promise<void> {
    return this.#lease.release();
  }
}

/** Build the gate for one config. Everything that can fail on bad config runs before the store is taken. */
export async function createPolicyGate(
  cfg: SluiceConfig,
  readSecret: ReadSecret,
  stores: StoreRegistry = new StoreRegistry(),
  previous?: PolicyGate,
  slicer: Slicer = new Slicer(),
  cache?: ReuseCache,
  log?: StoreLogger,
): Promise<PolicyGate> {
  // already compiled when this config was validated (the same object): reused, not redone
  const namespaces = await slicer.run(compileNamespaceSteps(cfg));
  const identifier = await Identifier.load(cfg.namespaces, readSecret, slicer, cache, log);
  const password = cfg.store.redis?.password
    ? readSecret(cfg.store.redis.password, 'store.redis.password')
    : undefined;
  const lease = await stores.acquire(cfg.store, password);
  return new PolicyGate(cfg, namespaces, identifier, lease, previous);
}

/**
 * The gate factory a Dataplane uses by default: one store registry per Dataplane, so counters survive
 * its config reloads while two Dataplanes in one process (tests) never share in-memory state.
 */
export function policyGateFactory(log?: StoreLogger): NonNullable<CompileOptions['gateFactory']> {
  const stores = new StoreRegistry(log);
  let last: PolicyGate | undefined;
  return async (cfg, readSecret, _secretsDir, slicer, cache) => {
    last = await createPolicyGate(cfg, readSecret, stores, last, slicer, cache, log);
    return last;
  };
}
