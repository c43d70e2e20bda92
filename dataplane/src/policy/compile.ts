// Namespaces and policies compiled once per config load: regexes built, globs turned into matchers,
// policy scopes resolved, so the request path only runs precomputed closures (fastify route.js style).

import { compilePattern, type LinearPattern } from '../compiled/patterns.ts';
import { compileModelMatcher } from '../compiled/route.ts';
import { ConfigError, type ConfigIssue } from '../config/load.ts';
import type { NamespaceConfig, PolicyConfig, SluiceConfig } from '../config/schema.ts';
import { runSteps, type Steps } from '../config/steps.ts';

export interface ContentFilter {
  name: string;
  /** RE2: linear in the prompt's length whatever the tenant wrote */
  re: LinearPattern;
}

export interface CompiledPolicy {
  name: string;
  config: PolicyConfig;
  appliesTo(route: string, model: string): boolean;
  filters: ContentFilter[];
  /** undefined when the policy does not restrict models */
  modelAllowed: ((model: string) => boolean) | undefined;
  /** the policy needs the prompt's token count (input limits, token or cost windows) */
  needsTokens: boolean;
  /** the policy needs the shared store (rates, concurrency, windows) */
  needsStore: boolean;
}

export interface CompiledNamespace {
  name: string;
  config: NamespaceConfig;
  policies: CompiledPolicy[];
  routeAllowed(route: string): boolean;
  modelAllowed(model: string): boolean;
}

function compilePolicy(
  p: PolicyConfig,
  i: number,
  routes: Set<string>,
  issues: ConfigIssue[],
): CompiledPolicy {
  const path = `policies[${i}]`;
  p.scope?.routes?.forEach((r, j) => {
    if (!routes.has(r)) issues.push({ path: `${path}.scope.routes[${j}]`, message: `unknown route "${r}"` });
  });
  const scopeRoutes = p.scope?.routes ? new Set(p.scope.routes) : undefined;
  const scopeModels = p.scope?.models ? compileModelMatcher(p.scope.models) : undefined;
  const filters: ContentFilter[] = [];
  (p.contentFilters ?? []).forEach((f, j) => {
    try {
      filters.push({ name: f.name, re: compilePattern(f.pattern, f.flags ?? '') });
    } catch (err) {
      const why = (err as Error).message;
      const field = why.startsWith('unsupported flag') ? 'flags' : 'pattern';
      issues.push({ path: `${path}.contentFilters[${j}].${field}`, message: why });
    }
  });
  const allow = p.models?.allow ? compileModelMatcher(p.models.allow) : undefined;
  const deny = p.models?.deny?.length ? compileModelMatcher(p.models.deny) : undefined;
  const modelAllowed =
    allow || deny ? (m: string) => (allow ? allow(m) : true) && !(deny ? deny(m) : false) : undefined;
  const windows = (p.tokens?.length ?? 0) > 0 || p.budget !== undefined;
  return {
    name: p.name,
    config: p,
    appliesTo: (route, model) =>
      (scopeRoutes ? scopeRoutes.has(route) : true) && (scopeModels ? scopeModels(model) : true),
    filters,
    modelAllowed,
    needsTokens: windows || p.maxInputTokens !== undefined,
    needsStore: windows || p.requests !== undefined || p.concurrency !== undefined,
  };
}

/**
 * Compiled once per config object: validation compiles them (so `sluice validate` and the operator
 * reject what the dataplane would refuse) and the policy gate of the same load reuses that work.
 */
const compiledByConfig = new WeakMap<SluiceConfig, Map<string, CompiledNamespace>>();

/** Namespaces compiled between two pause points. */
const EVERY = 100;

export function* compileNamespaceSteps(cfg: SluiceConfig): Steps<Map<string, CompiledNamespace>> {
  const known = compiledByConfig.get(cfg);
  if (known) return known;
  const issues: ConfigIssue[] = [];
  const routes = new Set(cfg.routes.map((r) => r.name));
  const policies = new Map<string, CompiledPolicy>();
  for (const [i, p] of cfg.policies.entries()) {
    if (i % EVERY === EVERY - 1) yield;
    policies.set(p.name, compilePolicy(p, i, routes, issues));
  }
  const out = new Map<string, CompiledNamespace>();
  for (const [i, ns] of cfg.namespaces.entries()) {
    if (i % EVERY === EVERY - 1) yield;
    const allowedRoutes = ns.routes ? new Set(ns.routes) : undefined;
    out.set(ns.name, {
      name: ns.name,
      config: ns,
      policies: ns.policies.flatMap((n) => policies.get(n) ?? []),
      routeAllowed: (r) => (allowedRoutes ? allowedRoutes.has(r) : true),
      modelAllowed: compileModelMatcher(ns.models),
    });
  }
  if (cfg.store.redis?.keyPrefix && /[{}]/.test(cfg.store.redis.keyPrefix))
    issues.push({
      path: 'store.redis.keyPrefix',
      message: 'must not contain "{" or "}" (Sluice puts the namespace in a Redis Cluster hash tag)',
    });
  if (issues.length) throw new ConfigError('config', issues);
  compiledByConfig.set(cfg, out);
  return out;
}

export function compileNamespaces(cfg: SluiceConfig): Map<string, CompiledNamespace> {
  return runSteps(compileNamespaceSteps(cfg));
}
