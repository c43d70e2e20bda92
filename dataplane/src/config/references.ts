// Cross-reference checks the schema cannot express (unique names, route -> provider, namespace ->
// policy/route, provider types and their credentials), in steps so that thousands of routes and
// namespaces can be checked without holding the event loop (see steps.ts).
import { getPreset } from '../providers/presets.ts';
import type { ConfigIssue } from './load.ts';
import type { SluiceConfig } from './schema.ts';
import type { Steps } from './steps.ts';
import { checkEgress, checkTenancySteps } from './tenancy.ts';

/** Entries checked between two pause points. */
const EVERY = 100;

function duplicates<T extends { name: string }>(items: T[], key: string, issues: ConfigIssue[]): Set<string> {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.name))
      issues.push({ path: `${key}[${i}].name`, message: `duplicate name "${item.name}"` });
    seen.add(item.name);
  });
  return seen;
}

/** Checks the schema cannot express: unique names, references, provider types and their credentials. */
export function* checkReferenceSteps(cfg: SluiceConfig): Steps<ConfigIssue[]> {
  const issues: ConfigIssue[] = [];
  const providers = duplicates(cfg.providers, 'providers', issues);
  const routes = duplicates(cfg.routes, 'routes', issues);
  const policies = duplicates(cfg.policies, 'policies', issues);
  duplicates(cfg.namespaces, 'namespaces', issues);

  cfg.providers.forEach((p, i) => {
    const preset = getPreset(p.type);
    if (!preset) {
      issues.push({ path: `providers[${i}].type`, message: `unsupported provider type "${p.type}"` });
      return;
    }
    if (!p.baseUrl && !preset.defaultBaseUrl) {
      issues.push({ path: `providers[${i}].baseUrl`, message: `required for provider type "${p.type}"` });
    }
    const needsRegion =
      preset.auth === 'sigv4' || (!p.baseUrl && (preset.defaultBaseUrl ?? '').includes('{region}'));
    if (needsRegion && !p.region) {
      issues.push({ path: `providers[${i}].region`, message: `required for provider type "${p.type}"` });
    } else if (p.region !== undefined && !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(p.region)) {
      // the region becomes part of a host name and of the SigV4 scope
      issues.push({
        path: `providers[${i}].region`,
        message: 'must look like a region name, e.g. us-east-1',
      });
    }
    if (
      p.healthCheck &&
      !p.healthCheck.path &&
      (!preset.pathTemplateByOperation.health || preset.auth === 'sigv4')
    ) {
      issues.push({
        path: `providers[${i}].healthCheck`,
        message: `provider type "${p.type}" has no health endpoint Sluice can probe; set healthCheck.path or omit healthCheck`,
      });
    }
    if (p.endpoints && preset.transport !== 'http') {
      issues.push({
        path: `providers[${i}].endpoints`,
        message: `provider type "${p.type}" does not call a server: endpoints need an HTTP provider type`,
      });
    }
    for (const cred of preset.requiredCredentials) {
      if (!p.credentials?.[cred]) {
        issues.push({
          path: `providers[${i}].credentials.${cred}`,
          message: `required for provider type "${p.type}"`,
        });
      }
    }
  });
  yield;
  for (const [i, r] of cfg.routes.entries()) {
    if (i % EVERY === EVERY - 1) yield;
    const check = (list: typeof r.backends, key: string) =>
      list.forEach((b, j) => {
        if (!providers.has(b.provider)) {
          issues.push({
            path: `routes[${i}].${key}[${j}].provider`,
            message: `unknown provider "${b.provider}"`,
          });
        }
      });
    check(r.backends, 'backends');
    check(r.fallback, 'fallback');
    if (r.backends.every((b) => b.weight === 0)) {
      issues.push({ path: `routes[${i}].backends`, message: 'at least one backend needs a weight above 0' });
    }
    if (
      r.strategy === 'complexity' &&
      !(r.backends.some((b) => b.tier === 'cheap') && r.backends.some((b) => b.tier === 'strong'))
    ) {
      issues.push({
        path: `routes[${i}].backends`,
        message: 'the complexity strategy needs a backend of tier "cheap" and one of tier "strong"',
      });
    }
  }
  let defaults = 0;
  for (const [i, ns] of cfg.namespaces.entries()) {
    if (i % EVERY === EVERY - 1) yield;
    // each default after the first is named: an issue without an entry's index is blamed on no
    // object, and the operator could then write nothing for anyone
    if (ns.default && defaults++ > 0)
      issues.push({ path: `namespaces[${i}].default`, message: 'at most one namespace may be the default' });
    ns.policies.forEach((p, j) => {
      if (!policies.has(p))
        issues.push({ path: `namespaces[${i}].policies[${j}]`, message: `unknown policy "${p}"` });
    });
    ns.routes?.forEach((r, j) => {
      if (!routes.has(r))
        issues.push({ path: `namespaces[${i}].routes[${j}]`, message: `unknown route "${r}"` });
    });
  }
  if (cfg.store.type === 'redis' && !cfg.store.redis)
    issues.push({ path: 'store.redis', message: 'required when store.type is redis' });
  issues.push(...(yield* checkTenancySteps(cfg)), ...checkEgress(cfg));
  return issues;
}
