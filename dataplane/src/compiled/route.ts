// A route compiled for the request path: matchers built once at load (fastify route.js style), the
// balancer and retry budget ready, and backends pointing at live provider runtimes.
import type { HeaderMatch, RouteConfig } from '../config/schema.ts';
import { Balancer, type CompiledBackend } from '../proxy/balancer.ts';
import { RetryBudgets } from '../proxy/retry.ts';
import { compileGlob, compilePattern, isGlob } from './patterns.ts';
import type { ProviderRuntime } from './provider_runtime.ts';

/**
 * Header values longer than this never match a regex matcher: the value is the client's, and even a
 * linear scan should not be paid on 16 KiB of it per route.
 */
export const MAX_MATCHED_HEADER_CHARS = 4096;

export interface CompiledRoute {
  name: string;
  config: RouteConfig;
  /** exact model names and aliases this route lists, for /v1/models */
  listedModels: string[];
  matchesModel(model: string): boolean;
  matchesPath(path: string): boolean;
  /** the route only serves requests under one of its path prefixes */
  pathOnly: boolean;
  matchesHeaders(get: (name: string) => string | undefined): boolean;
  balancer: Balancer;
  fallback: CompiledBackend[];
  /** retry budgets, one per tenant (retry.ts) */
  budgets: RetryBudgets;
  /** providers of backends left out by the degrade switch (`suspended` on the backend or provider) */
  suspended: string[];
}

export function compileHeaderMatch(m: HeaderMatch): (get: (name: string) => string | undefined) => boolean {
  const name = m.name.toLowerCase();
  if (m.equals !== undefined) {
    const v = m.equals;
    return (get) => get(name) === v;
  }
  if (m.in !== undefined) {
    const set = new Set(m.in);
    return (get) => {
      const v = get(name);
      return v !== undefined && set.has(v);
    };
  }
  if (m.regex !== undefined) {
    const re = compilePattern(m.regex);
    return (get) => {
      const v = get(name);
      return v !== undefined && v.length <= MAX_MATCHED_HEADER_CHARS && re.test(v);
    };
  }
  const present = m.present === true;
  return (get) => (get(name) !== undefined) === present;
}

export function compileModelMatcher(patterns: string[] | undefined): (model: string) => boolean {
  if (!patterns || patterns.length === 0) return () => true;
  const exact = new Set(patterns.filter((p) => !isGlob(p)));
  const globs = patterns.filter(isGlob).map(compileGlob);
  if (globs.length === 0) return (m) => exact.has(m);
  return (m) => exact.has(m) || globs.some((g) => g(m));
}

export function compileRoute(
  cfg: RouteConfig,
  providers: ReadonlyMap<string, ProviderRuntime>,
  random?: () => number,
  suspendedProviders: ReadonlySet<string> = new Set(),
): CompiledRoute {
  // the degrade switch acts at load: suspended backends are not in the route at all, so their
  // traffic goes to the other backends and the fallback chain without a per-request check
  const suspended: string[] = [];
  const live = (b: RouteConfig['backends'][number]) => {
    const off = b.suspended === true || suspendedProviders.has(b.provider);
    if (off) suspended.push(b.provider);
    return !off;
  };
  const backends = cfg.backends.filter(live);
  const fallback = cfg.fallback.filter(live);
  const toBackend = (b: RouteConfig['backends'][number]): CompiledBackend => ({
    provider: providers.get(b.provider) as ProviderRuntime,
    model: b.model,
    weight: b.weight,
    tier: b.tier,
  });
  const headerMatchers = (cfg.match.headers ?? []).map(compileHeaderMatch);
  const paths = cfg.match.paths ?? [];
  return {
    name: cfg.name,
    config: cfg,
    listedModels: (cfg.match.models ?? []).filter((p) => !p.includes('*') && !p.includes('?')),
    matchesModel: compileModelMatcher(cfg.match.models),
    matchesPath:
      paths.length === 0
        ? () => true
        : (p) =>
            paths.some(
              (prefix) => p === prefix || p.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`),
            ),
    pathOnly: paths.length > 0,
    matchesHeaders: headerMatchers.length === 0 ? () => true : (get) => headerMatchers.every((m) => m(get)),
    balancer: new Balancer(cfg, backends.map(toBackend), random),
    fallback: fallback.map(toBackend),
    budgets: new RetryBudgets(),
    suspended,
  };
}
