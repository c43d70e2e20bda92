// AIPolicy: limits and filters applied to the AINamespaces that list it (requests, concurrency, tokens,
// cost, output caps, prompt filters, model allow/deny lists).
import {
  ageColumn,
  conditionColumn,
  objectName,
  type Resource,
  reasonColumn,
  summaryColumn,
  window,
} from './common.ts';
import type { KindDefinition } from './kind.ts';
import { arr, bool, cel, int, num, obj, oneOf, req, str, type TypeOf } from './schema_dsl.ts';

const tokenLimit = obj('a token budget over a time window', {
  limit: req(int('tokens allowed per window', { minimum: 1 })),
  window: req(window('the window the limit resets on')),
  kind: oneOf('which tokens count', ['input', 'output', 'total'], { default: 'total' }),
});

export const aiPolicySpec = cel(
  obj('desired state of an AIPolicy', {
    scope: obj('narrows where the policy applies; omit to apply to every request of the tenant', {
      routes: arr('AIRoutes (same namespace) the policy applies to', objectName('an AIRoute name'), {
        maxItems: 64,
        'x-kubernetes-list-type': 'set',
      }),
      models: arr('model names or globs the policy applies to', str('a model or glob', { maxLength: 256 }), {
        maxItems: 64,
      }),
      perApiKey: bool('count limits per API key instead of per tenant', { default: false }),
    }),
    requests: cel(
      obj('request rate limit (QPS / RPM)', {
        limit: req(int('requests allowed per window', { minimum: 1 })),
        window: req(window('the window the limit resets on')),
        burst: int('extra requests allowed in a burst; at least limit', { minimum: 1 }),
      }),
      {
        rule: '!has(self.burst) || self.burst >= self.limit',
        message: 'burst must be at least limit',
        fieldPath: '.burst',
      },
    ),
    concurrency: obj('requests in flight at once', {
      max: req(int('most requests in flight', { minimum: 1, maximum: 1_000_000 })),
    }),
    maxInputTokens: int('largest prompt in tokens', { minimum: 1 }),
    maxOutputTokens: obj('cap on completion tokens per request (streams are truncated at the cap)', {
      limit: req(int('most completion tokens', { minimum: 1 })),
      mode: oneOf(
        'clamp: lower max_tokens and truncate; reject: refuse larger requests',
        ['clamp', 'reject'],
        {
          default: 'clamp',
        },
      ),
    }),
    // a list-map keyed by window and kind (kind's default is allowed in a key): entries have identity,
    // so server-side apply merges them by key instead of owning (and conflicting on) the whole list
    tokens: cel(
      arr('token budgets per window', tokenLimit, {
        maxItems: 16,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['window', 'kind'],
      }),
      {
        rule: "self.all(a, self.filter(b, b.window == a.window && (has(b.kind) ? b.kind : 'total') == (has(a.kind) ? a.kind : 'total')).size() == 1)",
        message: 'at most one token limit per window and kind',
      },
    ),
    budget: cel(
      obj('spend limit in USD, priced from the AIProvider model pricing', {
        usd: req(num('USD allowed per window', { minimum: 0, exclusiveMinimum: true })),
        window: req(window('the window the budget resets on; hour, day or month')),
      }),
      {
        rule: "self.window in ['hour', 'day', 'month']",
        message: 'budget window must be hour, day or month',
        fieldPath: '.window',
      },
    ),
    maxPromptChars: int('largest prompt in characters', { minimum: 1 }),
    reserveOutputTokens: int(
      'output tokens reserved against token and cost limits when a request sets no max tokens; the answer is capped to it',
      { minimum: 1 },
    ),
    contentFilters: arr(
      'regular expressions that reject a prompt when they match',
      obj('one content filter', {
        name: req(
          str('rule name, reported in the rejection', {
            minLength: 1,
            maxLength: 63,
            pattern: '^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$',
          }),
        ),
        pattern: req(
          str('RE2 regular expression (linear time: no backreferences or lookaround)', {
            minLength: 1,
            maxLength: 4096,
          }),
        ),
        flags: str('regular expression flags', { pattern: '^[imsu]*$', maxLength: 4 }),
      }),
      { maxItems: 64, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] },
    ),
    traceContent: bool(
      "record prompts and answers on this tenant's trace spans (redacted like logs, at most 16 KiB); off unless set",
    ),
    models: obj('model allow and deny lists (names or globs)', {
      allow: arr('only these models may be requested', str('a model or glob', { maxLength: 256 }), {
        maxItems: 256,
      }),
      deny: arr('these models may not be requested', str('a model or glob', { maxLength: 256 }), {
        maxItems: 256,
      }),
    }),
  }),
  {
    rule: [
      'has(self.requests) || has(self.concurrency) || has(self.maxInputTokens) || has(self.maxOutputTokens) ||',
      'has(self.tokens) || has(self.budget) || has(self.maxPromptChars) || has(self.contentFilters) || has(self.models) ||',
      'has(self.traceContent)',
    ].join(' '),
    message: 'a policy must set at least one limit or filter',
  },
);
export type AIPolicySpec = TypeOf<typeof aiPolicySpec>;
export type AIPolicy = Resource<AIPolicySpec>;

export const aiPolicyKind: KindDefinition = {
  kind: 'AIPolicy',
  plural: 'aipolicies',
  singular: 'aipolicy',
  shortNames: ['aipol'],
  description:
    'Limits and filters (requests, concurrency, tokens, USD budget, output caps, prompt filters) for tenants.',
  spec: aiPolicySpec.schema,
  printerColumns: [
    summaryColumn('Limits', 'limits', 'every limit and filter (requests, tokens, USD, caps, filters)'),
    conditionColumn('Ready', 'accepted, references resolved and programmed'),
    conditionColumn('Programmed', 'served by every live dataplane replica'),
    ageColumn,
    summaryColumn('Scope', 'scope', 'which requests it counts: routes, models, per API key', 1),
    reasonColumn('Reason', 'why the policy is not Ready', 1),
  ],
};
