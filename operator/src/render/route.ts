// AIRoute -> dataplane route entry. Backends resolve to accepted AIProviders in the same namespace.
import { patternProblem } from '../../../dataplane/src/config/contract.ts';
import type { AIRoute, BackendSpec } from '../api/airoute.ts';
import type { HeaderMatchSpec } from '../api/common.ts';
import { Findings } from './findings.ts';
import type { Rendered } from './provider.ts';
import type { RefIndex } from './refs.ts';
import { namespaceOf, type RouteInput } from './types.ts';
import { compact, ms, renderTimeouts } from './util.ts';

export function renderHeaderMatch(h: HeaderMatchSpec) {
  return compact({ name: h.name, equals: h.equals, in: h.values, regex: h.regex, present: h.present });
}

export function renderRoute(r: AIRoute, refs: RefIndex, dpName: string): Rendered<RouteInput> {
  const findings = new Findings();
  const ns = namespaceOf(r);
  const { spec } = r;
  const backend = (list: string) => (b: BackendSpec, i: number) => {
    const path = `spec.${list}[${i}].providerRef.name`;
    const provider = refs.resolve('AIProvider', ns, b.providerRef.name, findings, path);
    return compact({
      provider: provider ?? '',
      model: b.model,
      weight: b.weight,
      tier: b.tier,
      suspended: b.suspended || undefined,
    });
  };
  const backends = spec.backends.map(backend('backends'));
  // a fallback whose provider is missing is left out: the route serves without it (ResolvedRefs says so)
  const fallback = (spec.fallback ?? []).flatMap((b, i) => {
    const r = refs.check('AIProvider', ns, b.providerRef.name);
    if ('dataplaneName' in r)
      return [compact({ provider: r.dataplaneName, model: b.model, suspended: b.suspended || undefined })];
    findings.leftOut(r.reason, r.problem, `spec.fallback[${i}].providerRef.name`);
    return [];
  });
  spec.match?.headers?.forEach((h, i) => {
    // the dataplane runs header regexes on RE2: refuse here what it would refuse at load
    const why = h.regex === undefined ? undefined : patternProblem(h.regex);
    if (why) findings.invalid(`${why}: /${h.regex}/`, `spec.match.headers[${i}].regex`);
  });
  const retry = spec.retry
    ? compact({
        attempts: spec.retry.attempts,
        baseDelayMs: ms(spec.retry.baseDelay),
        maxDelayMs: ms(spec.retry.maxDelay),
        budgetPercent: spec.retry.budgetPercent,
        onStatus: spec.retry.onStatus,
        respectRetryAfterMaxMs: ms(spec.retry.respectRetryAfterMax),
      })
    : undefined;
  const input: RouteInput = compact({
    name: dpName,
    match: compact({
      models: spec.match?.models,
      paths: spec.match?.paths,
      headers: spec.match?.headers?.map(renderHeaderMatch),
    }),
    strategy: spec.strategy,
    backends,
    fallback: fallback.length ? fallback : undefined,
    retry,
    timeouts: renderTimeouts(spec.timeouts),
    complexity: spec.complexity
      ? compact({ strongThreshold: spec.complexity.strongThreshold, weights: spec.complexity.weights })
      : undefined,
    cache: spec.cache
      ? compact({
          enabled: spec.cache.enabled,
          ttlSeconds:
            spec.cache.ttl === undefined
              ? undefined
              : Math.max(1, Math.round((ms(spec.cache.ttl) ?? 0) / 1000)),
        })
      : undefined,
  });
  return { findings, input };
}

/** Dataplane routes are matched first to last: higher priority first, then namespace and name. */
export function routeOrder(a: AIRoute, b: AIRoute): number {
  const pa = a.spec.priority ?? 0;
  const pb = b.spec.priority ?? 0;
  if (pa !== pb) return pb - pa;
  const ka = `${namespaceOf(a)}/${a.metadata.name}`;
  const kb = `${namespaceOf(b)}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
