// Which providers' own rate-limit headers (x-ratelimit-*, anthropic-ratelimit-*) reach clients, decided
// once per config load. Those headers describe the provider ACCOUNT: when several tenants share it, they
// tell one tenant how many requests and tokens the others used this minute — a side channel a
// multi-tenant gateway must not open by default. So the default (`single-tenant`) passes them only
// while at most one namespace can reach the provider (through some route it may use); a gateway with
// `access: open` has no namespaces and serves one tenant. `always` and `never` are the explicit
// choices (never: the account is shared beyond this config, e.g. by another gateway).
import type { SluiceConfig } from '../config/schema.ts';

/** The names of the providers whose rate-limit headers clients get. */
export function rateLimitHeaderProviders(config: SluiceConfig): Set<string> {
  const providersOf = new Map<string, string[]>();
  for (const r of config.routes) {
    providersOf.set(r.name, [...new Set([...r.backends, ...r.fallback].map((b) => b.provider))]);
  }
  const all = [...new Set(config.providers.map((p) => p.name))];
  // namespaces that can reach each provider, counted up to 2 (more changes nothing)
  const reach = new Map<string, number>();
  for (const ns of config.namespaces) {
    // a rejected entry is refused (403) before it reaches any provider
    if (ns.rejected !== undefined) continue;
    const reached = ns.routes ? new Set(ns.routes.flatMap((r) => providersOf.get(r) ?? [])) : all;
    for (const p of reached) reach.set(p, Math.min(2, (reach.get(p) ?? 0) + 1));
  }
  const out = new Set<string>();
  for (const p of config.providers) {
    const mode = p.rateLimitHeaders ?? 'single-tenant';
    if (mode === 'always' || (mode === 'single-tenant' && (reach.get(p.name) ?? 0) <= 1)) out.add(p.name);
  }
  return out;
}
