// One-line digests of a spec, written to status.summary for `kubectl get` columns. A CRD printer
// column prints only the first value of a JSONPath such as .spec.match.models[*], or a whole list as
// a JSON array, so lists and limits are joined here, where they can be made to read well:
//   MODELS gpt-4o*, o1-mini      LIMITS 100/min, 50000 total tok/hour, $20/day
// They change only with the spec, so they ride on the status write a new generation needs anyway.
import type { AINamespaceSpec } from '../api/ainamespace.ts';
import type { AIPolicySpec } from '../api/aipolicy.ts';
import type { AIProviderSpec } from '../api/aiprovider.ts';
import type { AIRouteSpec } from '../api/airoute.ts';
import type { Summary } from '../api/common.ts';
import type { Kind } from '../render/types.ts';

const MAX_LISTED = 3;

/** "a, b, c (+2 more)": the first few, then how many are left out. */
export function listed(items: readonly string[] | undefined, empty = ''): string {
  if (!items || items.length === 0) return empty;
  const shown = items.slice(0, MAX_LISTED).join(', ');
  return items.length > MAX_LISTED ? `${shown} (+${items.length - MAX_LISTED} more)` : shown;
}

function target(t: { providerRef: { name: string }; model?: string }): string {
  return t.model ? `${t.providerRef.name}/${t.model}` : t.providerRef.name;
}

function routeSummary(s: AIRouteSpec): Summary {
  return {
    models: listed(s.match?.models, '*'),
    backends: listed(s.backends.map(target)),
    fallback: listed(s.fallback?.map(target), '-'),
  };
}

const per = (window: string) => (window === 'second' ? 's' : window === 'minute' ? 'min' : window);

export function policyLimits(s: AIPolicySpec): string {
  const parts: string[] = [];
  if (s.requests) parts.push(`${s.requests.limit} req/${per(s.requests.window)}`);
  if (s.concurrency) parts.push(`${s.concurrency.max} in flight`);
  for (const t of s.tokens ?? []) parts.push(`${t.limit} ${t.kind ?? 'total'} tok/${per(t.window)}`);
  if (s.budget) parts.push(`$${s.budget.usd}/${per(s.budget.window)}`);
  if (s.maxInputTokens) parts.push(`prompt <= ${s.maxInputTokens} tok`);
  if (s.maxOutputTokens) parts.push(`output <= ${s.maxOutputTokens.limit} tok`);
  if (s.maxPromptChars) parts.push(`prompt <= ${s.maxPromptChars} chars`);
  if (s.contentFilters?.length) parts.push(`${s.contentFilters.length} content filters`);
  if (s.models?.allow?.length) parts.push(`models ${listed(s.models.allow)}`);
  if (s.models?.deny?.length) parts.push(`not ${listed(s.models.deny)}`);
  return parts.join(', ');
}

function policyScope(s: AIPolicySpec): string {
  const parts: string[] = [];
  if (s.scope?.routes?.length) parts.push(`routes ${listed(s.scope.routes)}`);
  if (s.scope?.models?.length) parts.push(`models ${listed(s.scope.models)}`);
  parts.push(s.scope?.perApiKey ? 'per API key' : 'per tenant');
  return parts.join(', ');
}

function namespaceSummary(s: AINamespaceSpec): Summary {
  const match: string[] = [];
  const keySecrets = s.match?.apiKeys?.secretRefs?.map((r) => r.name);
  if (keySecrets?.length) match.push(`API keys from ${listed(keySecrets)}`);
  for (const h of s.match?.headers ?? []) match.push(`header ${h.name}`);
  if (s.match?.jwt) match.push('JWT');
  if (s.default) match.push('default');
  return { match: match.join(', '), policies: listed(s.policies, '-'), models: listed(s.models, '*') };
}

export function summarize(kind: Kind, spec: unknown): Summary {
  switch (kind) {
    case 'AIRoute':
      return routeSummary(spec as AIRouteSpec);
    case 'AIPolicy':
      return { limits: policyLimits(spec as AIPolicySpec), scope: policyScope(spec as AIPolicySpec) };
    case 'AINamespace':
      return namespaceSummary(spec as AINamespaceSpec);
    case 'AIProvider':
      return {
        models: listed(
          (spec as AIProviderSpec).models?.map((m) => m.name),
          '*',
        ),
      };
  }
}
