// Checks that make tenant identity unambiguous and the config fail closed (docs/policies.md, "Which
// namespace a request belongs to"):
//   * `access` says what happens without tenants: `open` serves everyone and cannot be combined with
//     namespaces; with no namespaces it must be written out, so "open" is never implied by absence.
//   * A tenant identified by headers alone (no API keys, no JWT) may only match exact values
//     (`equals` / `in`): a regex or `present` could match another tenant's requests and cannot be
//     proven disjoint from it.
//   * No two header-only tenants may both match one request: they must share a header whose allowed
//     values do not intersect. The later entry is the one reported (the operator renders older
//     objects first, so the older tenant keeps its traffic). A `rejected` entry is exempt: it only
//     refuses, after every served tenant had its turn (identify.ts), so it can take no one's traffic.
// And the egress policy: every provider URL as written is checked against it (proxy/egress.ts).

import { getPreset } from '../providers/presets.ts';
import { EgressPolicy, egressEntryProblem } from '../proxy/egress.ts';
import type { ConfigIssue } from './load.ts';
import type { HeaderMatch, NamespaceConfig, SluiceConfig } from './schema.ts';
import type { Steps } from './steps.ts';

/** header name (lowercase) -> the values every matcher on it allows (their intersection) */
type ExactHeaders = Map<string, Set<string>>;

/** Messages shared with the operator, which reports the same rules against the custom resources. */
export const INEXACT =
  'a namespace identified by headers alone must match exact values (equals or values/in); add apiKeys or jwt to use regex or present as a narrowing rule';
export const DISJOINT =
  'namespaces identified by headers alone need a header they both match, with values that differ';
export function emptyMessage(header: string): string {
  return `the matchers on header "${header}" allow no common value, so this namespace matches no request`;
}

export function isHeaderOnly(ns: NamespaceConfig): boolean {
  const m = ns.match;
  return (
    (m.headers?.length ?? 0) > 0 && !m.apiKeys?.length && m.apiKeysFile === undefined && m.jwt === undefined
  );
}

function exactHeaders(headers: readonly HeaderMatch[]): ExactHeaders {
  const out: ExactHeaders = new Map();
  for (const h of headers) {
    const values = new Set(h.equals !== undefined ? [h.equals] : (h.in ?? []));
    const name = h.name.toLowerCase();
    const before = out.get(name);
    out.set(name, before ? new Set([...before].filter((v) => values.has(v))) : values);
  }
  return out;
}

interface Group<T> {
  /** the header names every member matches on */
  names: string[];
  members: Map<number, { owner: T; headers: ExactHeaders }>;
  /** per header name: value -> members allowing it */
  byValue: Map<string, Map<string, number[]>>;
}

function overlaps(a: ExactHeaders, b: ExactHeaders): boolean {
  for (const [name, values] of a) {
    const other = b.get(name);
    if (other && ![...values].some((v) => other.has(v))) return false;
  }
  return true;
}

export type HeaderClaim<T> =
  | { ok: true }
  /** indexes of matchers that are not exact values (regex / present) */
  | { ok: false; inexact: number[] }
  /** a header whose matchers allow no common value */
  | { ok: false; empty: string }
  /** an earlier claim that matches some request this one matches too */
  | { ok: false; overlaps: T };

/**
 * Header-only tenants in the order they claim their headers (older first). A claim is refused when
 * some request could match both it and an earlier one. Tenants grouped by the header names they use
 * and indexed by value, so thousands of channel codes are checked in near-linear time.
 */
export class HeaderTenants<T> {
  readonly #groups = new Map<string, Group<T>>();
  #next = 0;

  claim(owner: T, headers: readonly HeaderMatch[]): HeaderClaim<T> {
    const inexact = headers.flatMap((h, j) => (h.equals !== undefined || h.in !== undefined ? [] : [j]));
    if (inexact.length) return { ok: false, inexact };
    const mine = exactHeaders(headers);
    const empty = [...mine].find(([, v]) => v.size === 0);
    if (empty) return { ok: false, empty: empty[0] };
    const other = this.#findOverlap(mine);
    if (other !== undefined) return { ok: false, overlaps: other };
    this.#add(owner, mine);
    return { ok: true };
  }

  #findOverlap(mine: ExactHeaders): T | undefined {
    for (const g of this.#groups.values()) {
      const shared = g.names.find((n) => mine.has(n));
      // no header in common: a request carrying both tenants' headers matches both
      if (shared === undefined) return g.members.values().next().value?.owner;
      const index = g.byValue.get(shared);
      const seen = new Set<number>();
      for (const v of mine.get(shared) ?? []) {
        for (const m of index?.get(v) ?? []) {
          if (seen.has(m)) continue;
          seen.add(m);
          const other = g.members.get(m);
          if (other && overlaps(mine, other.headers)) return other.owner;
        }
      }
    }
    return undefined;
  }

  #add(owner: T, headers: ExactHeaders): void {
    const id = this.#next++;
    const names = [...headers.keys()].sort();
    const key = names.join('\n');
    let g = this.#groups.get(key);
    if (!g) {
      g = { names, members: new Map(), byValue: new Map(names.map((n) => [n, new Map()])) };
      this.#groups.set(key, g);
    }
    g.members.set(id, { owner, headers });
    for (const [name, values] of headers)
      for (const v of values) {
        const byName = g.byValue.get(name) as Map<string, number[]>;
        const list = byName.get(v);
        if (list) list.push(id);
        else byName.set(v, [id]);
      }
  }
}

export function* checkTenancySteps(cfg: SluiceConfig): Steps<ConfigIssue[]> {
  const issues: ConfigIssue[] = [];
  if (cfg.access === 'open' && cfg.namespaces.length > 0)
    issues.push({
      path: 'access',
      message:
        '"open" serves every caller without a tenant and cannot be combined with namespaces; give a namespace default: true instead',
    });
  if (cfg.access === undefined && cfg.namespaces.length === 0)
    issues.push({
      path: 'access',
      message:
        'required when no namespaces are listed: "open" serves every caller without a tenant, "tenants" refuses every request until namespaces are listed',
    });
  const claims = new HeaderTenants<string>();
  for (const [i, ns] of cfg.namespaces.entries()) {
    if (i % 100 === 99) yield;
    if (!isHeaderOnly(ns)) continue;
    const headers = ns.match.headers ?? [];
    // a rejected entry only refuses (403) and is matched after every served one (identify.ts), so
    // it may overlap them, e.g. the part of a Conflicted tenant's values an older tenant keeps; its
    // values must still be exact, or it could refuse requests meant for the default tenant
    const c = ns.rejected
      ? new HeaderTenants<string>().claim(ns.name, headers)
      : claims.claim(ns.name, headers);
    if (c.ok) continue;
    if ('inexact' in c)
      for (const j of c.inexact)
        issues.push({
          path: `namespaces[${i}].match.headers[${j}]`,
          message: `${INEXACT}; ${headers[j]?.regex !== undefined ? 'regex' : 'present'} could match another tenant's requests`,
        });
    else if ('empty' in c)
      issues.push({ path: `namespaces[${i}].match.headers`, message: emptyMessage(c.empty) });
    else
      issues.push({
        path: `namespaces[${i}].match.headers`,
        message: `matches requests that namespace "${c.overlaps}" also matches: ${DISJOINT}`,
      });
  }
  return issues;
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

/** Egress entries well formed, and every provider URL as written allowed by them. */
export function checkEgress(cfg: SluiceConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const list of ['allow', 'deny'] as const)
    cfg.egress?.[list]?.forEach((entry, i) => {
      const problem = egressEntryProblem(entry.trim());
      if (problem) issues.push({ path: `egress.${list}[${i}]`, message: problem });
    });
  const policy = new EgressPolicy(cfg.egress);
  cfg.providers.forEach((p, i) => {
    const urls: Array<[string, string]> = [];
    const preset = getPreset(p.type);
    const k8s = p.endpoints?.kubernetes;
    // with endpoints, baseUrl (or the preset's) only lends its path: the endpoints are what is called
    if (p.endpoints) {
      // pods are judged under their Service's name at connect time (egress.ts guardedConnector)
      if (k8s)
        urls.push([
          `providers[${i}].endpoints.kubernetes`,
          `http://${k8s.service}.${k8s.namespace}.svc.cluster.local`,
        ]);
    } else if (p.baseUrl) urls.push([`providers[${i}].baseUrl`, p.baseUrl]);
    else if (preset?.transport === 'http' && preset.defaultBaseUrl && !preset.defaultBaseUrl.includes('{'))
      urls.push([`providers[${i}].type`, preset.defaultBaseUrl]);
    const statics = p.endpoints?.static ?? [];
    statics.forEach((u, j) => {
      urls.push([`providers[${i}].endpoints.static[${j}]`, u]);
    });
    for (const [path, url] of urls) {
      const host = hostOf(url);
      const problem = host === undefined ? undefined : policy.hostProblem(host);
      if (problem) issues.push({ path, message: problem });
    }
  });
  return issues;
}
