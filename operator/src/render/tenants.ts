// Tenant identity rules the operator applies on top of rendering each AINamespace (the dataplane
// checks the same rules on the whole config: dataplane/src/config/tenancy.ts):
//   * header-only tenants claim their headers oldest first (within one second, the one already
//     serving first; then by namespace and name); a newer one that could match the same request is
//     Conflicted (an AINamespace in another namespace copying team-b's X-Channel-Code, a
//     regex ".*" or present:false cannot capture team-b's traffic);
//   * a tenant that is not accepted is still rendered, as a `rejected` entry with whatever match rules
//     could be rendered, so its callers get 403 instead of falling through to another tenant (the
//     default one) or, if it was the only tenant, to nobody at all. A Conflicted tenant too: the
//     dataplane tries rejected entries after served ones, so the older tenant keeps what both match.
//     A rejected entry the dataplane refuses is rendered again without match rules, and dropped if
//     even that fails.
import {
  DISJOINT,
  emptyMessage,
  type HeaderTenants,
  INEXACT,
} from '../../../dataplane/src/config/contract.ts';
import type { AINamespace } from '../api/ainamespace.ts';
import type { Findings } from './findings.ts';
import type { NamespaceInput, Outcome, Problem } from './types.ts';

/** `rejected` map entries (next to the objects' own) that say how a rejected tenant is rendered. */
const STRIP = 'deny-without-match:';
const DROP = 'deny-dropped:';

/** Accepted in its current status: the tenant is serving (only the operator writes status). */
export function isServing(n: AINamespace): boolean {
  return n.status?.conditions?.some((c) => c.type === 'Accepted' && c.status === 'True') ?? false;
}

export function isHeaderOnlySpec(n: AINamespace): boolean {
  const m = n.spec.match;
  return (m?.headers?.length ?? 0) > 0 && !m?.apiKeys && !m?.jwt;
}

/**
 * What became of a tenant's header rules: `claimed` (a header-only tenant's, now its own),
 * `overlap` (exact, but an older tenant claimed some request they match: Conflicted), `unusable`
 * (not exact values, or no common value) or `narrowing` (they only narrow its keys or tokens).
 */
export type HeaderClaim = 'claimed' | 'overlap' | 'unusable' | 'narrowing';

/** Claim a header-only tenant's headers (oldest first), recording why it may not. */
export function claimHeaders(
  claims: HeaderTenants<string>,
  n: AINamespace,
  input: NamespaceInput,
  findings: Findings,
): HeaderClaim {
  if (!isHeaderOnlySpec(n)) return 'narrowing';
  const headers = input.match?.headers ?? [];
  const label = `AINamespace ${n.metadata.namespace ?? 'default'}/${n.metadata.name}`;
  const c = claims.claim(label, headers);
  if (c.ok) return 'claimed';
  if ('overlaps' in c) {
    findings.conflict(
      `matches requests that ${c.overlaps} (created earlier) also matches: ${DISJOINT}`,
      'spec.match.headers',
    );
    return 'overlap';
  }
  if ('inexact' in c)
    for (const j of c.inexact)
      findings.invalid(
        `${INEXACT} (${headers[j]?.regex !== undefined ? 'regex' : 'present'} could match another tenant's requests)`,
        `spec.match.headers[${j}]`,
      );
  else findings.invalid(emptyMessage(c.empty), 'spec.match.headers');
  return 'unusable';
}

/**
 * The entry that keeps a rejected tenant's callers from being served as anyone else, or undefined
 * when none is rendered. A Conflicted header-only tenant gets one too, with its exact header rules:
 * the dataplane tries rejected entries after every served one, so the older tenant keeps every
 * request both match, and the newer one's other callers get 403 instead of being served as the
 * default tenant (they were, on its routes and budget).
 */
export function denyEntry(
  input: NamespaceInput,
  outcome: Outcome,
  headers: HeaderClaim,
  rejected: ReadonlyMap<string, Problem>,
): NamespaceInput | undefined {
  if (rejected.has(DROP + outcome.key)) return undefined;
  const m = input.match ?? {};
  const credentials = {
    ...(m.apiKeysFile ? { apiKeysFile: m.apiKeysFile } : {}),
    ...(m.jwt ? { jwt: m.jwt } : {}),
  };
  // header rules are kept only where they identify the tenant: a header-only tenant's exact values,
  // or rules narrowing credentials still in the entry; alone, narrowing rules (which may be regex
  // or absent-header rules) would turn the entry into a header-only one matching others' callers
  const keepHeaders =
    m.headers &&
    (headers === 'claimed' ||
      headers === 'overlap' ||
      (headers === 'narrowing' && Object.keys(credentials).length > 0));
  const match = rejected.has(STRIP + outcome.key)
    ? {}
    : { ...credentials, ...(keepHeaders ? { headers: m.headers } : {}) };
  return {
    name: input.name,
    ...(input.default ? { default: true } : {}),
    match,
    rejected: outcome.accepted.message.slice(0, 2000),
  };
}

/**
 * The dataplane refused the rejected entry of an already rejected tenant: render it without match
 * rules next time, then not at all. Returns false when the owner is not such a tenant.
 */
export function escalateDeny(owner: string, rejected: Map<string, Problem>): boolean {
  if (!owner.startsWith('AINamespace/') || !rejected.has(owner)) return false;
  const problem = { path: 'spec.match', message: 'rejected entry refused by the dataplane' };
  if (!rejected.has(STRIP + owner)) rejected.set(STRIP + owner, problem);
  else rejected.set(DROP + owner, problem);
  return true;
}
