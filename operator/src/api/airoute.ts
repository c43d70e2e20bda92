// AIRoute: which requests go to which providers, how load is spread, and what happens on failure.
import {
  ageColumn,
  conditionColumn,
  duration,
  headerMatches,
  localRef,
  type Resource,
  reasonColumn,
  summaryColumn,
  timeouts,
} from './common.ts';
import type { KindDefinition } from './kind.ts';
import { arr, bool, cel, int, num, obj, oneOf, req, str, type TypeOf } from './schema_dsl.ts';

export const STRATEGIES = [
  'weighted-random',
  'round-robin',
  'least-outstanding',
  'latency',
  'cost',
  'complexity',
] as const;

// Backend lists are atomic (an entry's identity, providerRef.name plus model, is nested, and list-map
// keys must be top-level scalars), so nothing inside them has a schema default: a default would make
// the stored list differ from the applied one, and `kubectl apply --server-side` after a client-side
// apply would then conflict on the whole list. Unset weights are 1 in the dataplane.
const target = {
  providerRef: req(localRef('the AIProvider serving this backend')),
  model: str('model name sent upstream; defaults to the requested model', { minLength: 1, maxLength: 256 }),
  suspended: bool('degrade switch: this backend takes no traffic; the others and the fallbacks serve'),
};
const backend = obj('an upstream target: a provider and the model to ask it for', {
  ...target,
  weight: int('share of traffic under weighted strategies (default 1); 0 takes no balanced traffic', {
    minimum: 0,
    maximum: 10_000,
  }),
  tier: oneOf('tier for the complexity strategy', ['cheap', 'strong']),
});
/** Fallback entries are tried in list order: no weight, no tier. */
const fallbackTarget = obj('a fallback target: a provider and the model to ask it for', target);

export const aiRouteSpec = cel(
  obj('desired state of an AIRoute', {
    priority: int(
      'routes are matched in descending priority, then by namespace and name; the first that matches serves',
      { minimum: -1000, maximum: 1000, default: 0 },
    ),
    match: obj('which requests this route serves; an empty match serves every request', {
      models: arr(
        'requested model names or globs such as gpt-4o*; omit for any model',
        str('a model name or glob', { minLength: 1, maxLength: 256 }),
        { maxItems: 64 },
      ),
      paths: arr(
        'path prefixes such as /v1/chat/completions; omit for any path',
        str('a path prefix', { pattern: '^/', maxLength: 1024 }),
        { maxItems: 16 },
      ),
      headers: headerMatches('request headers that must all match'),
    }),
    strategy: oneOf('how requests are spread over the backends', STRATEGIES, { default: 'weighted-random' }),
    backends: req(
      cel(arr('the balanced backends', backend, { minItems: 1, maxItems: 64 }), {
        rule: 'self.exists(b, !has(b.weight) || b.weight > 0)',
        message: 'weights must not all be zero: at least one backend needs a weight above 0',
      }),
    ),
    fallback: arr(
      'backends tried in order after the balanced backends fail; one whose provider is missing is left out (the route keeps serving; ResolvedRefs says so)',
      fallbackTarget,
      { maxItems: 16 },
    ),
    retry: obj('retries after a failed attempt, across backends', {
      attempts: int('retries after the first try', { minimum: 0, maximum: 10, default: 2 }),
      baseDelay: duration('first backoff delay; doubles per retry with jitter', { default: '50ms' }),
      maxDelay: duration('longest backoff delay', { default: '2s' }),
      budgetPercent: int('retries allowed as a percentage of recent requests', {
        minimum: 0,
        maximum: 100,
        default: 20,
      }),
      onStatus: arr(
        'upstream HTTP statuses that are retried',
        int('an HTTP status', { minimum: 400, maximum: 599 }),
        { maxItems: 32, 'x-kubernetes-list-type': 'set' },
      ),
      respectRetryAfterMax: duration('longest upstream Retry-After honoured before retrying', {
        default: '5s',
      }),
    }),
    timeouts,
    complexity: obj('settings of the complexity strategy', {
      strongThreshold: num('score at or above which the strong tier is used', {
        minimum: 0,
        maximum: 1,
        default: 0.5,
      }),
      weights: cel(
        obj('weight of each signal in the score', {
          length: num('prompt length', { minimum: 0 }),
          code: num('code in the prompt', { minimum: 0 }),
          reasoning: num('reasoning words in the prompt', { minimum: 0 }),
          turns: num('conversation turns', { minimum: 0 }),
        }),
        {
          // unset weights take their (non-zero) dataplane defaults
          rule: [
            '[has(self.length) ? self.length : 1.0, has(self.code) ? self.code : 1.0,',
            'has(self.reasoning) ? self.reasoning : 1.0, has(self.turns) ? self.turns : 1.0].exists(w, w > 0.0)',
          ].join(' '),
          message: 'weights must not all be zero',
        },
      ),
    }),
    cache: obj('response cache for identical non-streaming requests', {
      enabled: bool('cache responses of this route', { default: false }),
      ttl: duration('how long a cached response is served', { default: '5m' }),
    }),
  }),
  {
    rule: "self.strategy != 'complexity' || (self.backends.exists(b, has(b.tier) && b.tier == 'cheap') && self.backends.exists(b, has(b.tier) && b.tier == 'strong'))",
    message: 'the complexity strategy needs a backend of tier cheap and one of tier strong',
    fieldPath: '.backends',
  },
  {
    rule: "!has(self.complexity) || self.strategy == 'complexity'",
    message: 'complexity settings are only allowed when strategy is complexity',
    fieldPath: '.complexity',
  },
);
export type AIRouteSpec = TypeOf<typeof aiRouteSpec>;
export type AIRoute = Resource<AIRouteSpec>;
export type BackendSpec = AIRouteSpec['backends'][number];

export const aiRouteKind: KindDefinition = {
  kind: 'AIRoute',
  plural: 'airoutes',
  singular: 'airoute',
  shortNames: ['air', 'airoute'],
  description:
    'Routes matching requests (by model, path, headers) to AIProvider backends with fallback and retries.',
  spec: aiRouteSpec.schema,
  printerColumns: [
    summaryColumn('Models', 'models', 'models matched ("*" for any)'),
    { name: 'Strategy', type: 'string', jsonPath: '.spec.strategy', description: 'balancing strategy' },
    summaryColumn('Backends', 'backends', 'the balanced backends'),
    conditionColumn('Ready', 'accepted, references resolved and programmed'),
    conditionColumn('Programmed', 'served by every live dataplane replica'),
    ageColumn,
    summaryColumn('Fallback', 'fallback', 'fallback backends, in order', 1),
    {
      name: 'Priority',
      type: 'integer',
      jsonPath: '.spec.priority',
      description: 'match priority',
      priority: 1,
    },
    conditionColumn('Accepted', 'the spec is valid and rendered', 1),
    reasonColumn('Reason', 'why the route is not Ready', 1),
  ],
};
