// Schema pieces shared by the four kinds: references, durations, header matches, status and conditions.
import { arr, bool, cel, type Field, int, obj, oneOf, req, str, type TypeOf } from './schema_dsl.ts';

export const GROUP = 'gateway.sluice.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const CATEGORY = 'sluice';

/** DNS-1123 subdomain: what Kubernetes accepts as an object name. */
const OBJECT_NAME = '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$';
/** What Kubernetes accepts as a key in a Secret's data. */
const SECRET_KEY = '^[-._a-zA-Z0-9]+$';

export function objectName(description: string): Field<string> {
  return str(description, { minLength: 1, maxLength: 253, pattern: OBJECT_NAME });
}

/** A reference to an object of a known kind in the same Kubernetes namespace. */
export const localRef = (description: string) =>
  obj(description, { name: req(objectName('name of the referenced object (same namespace)')) });

const secretKey = (description: string, extra: { default?: string } = {}) =>
  str(description, { minLength: 1, maxLength: 253, pattern: SECRET_KEY, ...extra });

/** One key of one Secret in the same namespace, like core/v1 SecretKeySelector. */
export const secretKeySelector = (description: string) =>
  obj(description, {
    name: req(objectName('name of the Secret (same namespace)')),
    key: req(secretKey("key in the Secret's data")),
  });

/** Like secretKeySelector, with a default key. */
export const secretKeySelectorWithDefault = (description: string, defaultKey: string) =>
  obj(description, {
    name: req(objectName('name of the Secret (same namespace)')),
    key: secretKey(`key in the Secret's data; defaults to "${defaultKey}"`, { default: defaultKey }),
  });

/** A whole Secret in the same namespace. */
export const secretRef = (description: string) =>
  obj(description, { name: req(objectName('name of the Secret (same namespace)')) });

/** Gateway API style duration, converted to milliseconds when rendered. */
export const DURATION_PATTERN = '^([0-9]{1,5}(h|m|s|ms)){1,4}$';
export function duration(description: string, extra: { default?: string } = {}): Field<string> {
  return str(`${description} (a duration such as 500ms, 30s, 1m or 1h30m)`, {
    pattern: DURATION_PATTERN,
    maxLength: 32,
    ...extra,
  });
}

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
/** "1m30s" -> 90000. Throws on text that does not match DURATION_PATTERN. */
export function durationMs(text: string): number {
  if (!new RegExp(DURATION_PATTERN).test(text)) throw new Error(`invalid duration "${text}"`);
  let total = 0;
  for (const m of text.matchAll(/([0-9]+)(ms|h|m|s)/g)) total += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
  return total;
}

export const timeouts = obj(
  'timeouts of an upstream call; unset ones use the next layer (route > provider)',
  {
    connect: duration('time to open the TCP/TLS connection'),
    firstByte: duration(
      "time until the answer's first byte; for a stream its first event, after any thinking",
    ),
    idle: duration('longest gap allowed between two reads of the answer after its first byte'),
    total: duration('longest time for the whole call, stream included'),
  },
);
export type TimeoutsSpec = TypeOf<typeof timeouts>;

export const headerMatch = cel(
  obj('matches one request header; set exactly one of equals, values, regex or present', {
    name: req(str('header name (case-insensitive), e.g. X-Channel-Code', { minLength: 1, maxLength: 256 })),
    equals: str('the header value must equal this', { maxLength: 4096 }),
    values: arr('the header value must be one of these', str('an accepted value', { maxLength: 4096 }), {
      minItems: 1,
      maxItems: 1024,
    }),
    regex: str('the header value must match this RE2 regular expression (no backreferences or lookaround)', {
      minLength: 1,
      maxLength: 1024,
    }),
    present: bool('true: the header must be present; false: it must be absent'),
  }),
  {
    rule: '[has(self.equals), has(self.values), has(self.regex), has(self.present)].filter(x, x).size() == 1',
    message: 'exactly one of equals, values, regex or present must be set',
  },
);
export type HeaderMatchSpec = TypeOf<typeof headerMatch>;

export const headerMatches = (description: string) =>
  arr(description, headerMatch, {
    maxItems: 16,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['name'],
  });

export const WINDOWS = ['second', 'minute', 'hour', 'day', 'month'] as const;
export const window = (description: string) => oneOf(description, WINDOWS);

// ---- status ----------------------------------------------------------------------------------------

/** The condition types every Sluice object reports. Ready summarises the other three. */
export const CONDITION_TYPES = ['Accepted', 'ResolvedRefs', 'Programmed', 'Ready'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

export const condition = obj('one aspect of the object state (metav1.Condition)', {
  type: req(
    str('Accepted, ResolvedRefs, Programmed or Ready', {
      maxLength: 316,
      pattern:
        '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    }),
  ),
  status: req(oneOf('whether the condition holds', ['True', 'False', 'Unknown'])),
  observedGeneration: int('metadata.generation the condition was computed for', {
    minimum: 0,
    format: 'int64',
  }),
  lastTransitionTime: req(str('when status last changed', { format: 'date-time' })),
  reason: req(
    str('CamelCase machine-readable reason', {
      minLength: 1,
      maxLength: 1024,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    }),
  ),
  message: req(str('human-readable detail, e.g. the name of a missing reference', { maxLength: 32768 })),
});
export type Condition = TypeOf<typeof condition>;

export const status = obj('state observed by the Sluice operator', {
  observedGeneration: int('metadata.generation the operator last processed', {
    minimum: 0,
    format: 'int64',
  }),
  conditions: arr('Accepted, ResolvedRefs, Programmed and Ready', condition, {
    maxItems: 8,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  }),
  summary: obj('one-line digests of the spec the conditions describe, for kubectl get columns', {
    models: str('models matched or served, the first few joined ("*" for any)', { maxLength: 1024 }),
    backends: str('AIRoute: the balanced backends (provider or provider/model)', { maxLength: 1024 }),
    fallback: str('AIRoute: the fallback backends in order ("-" for none)', { maxLength: 1024 }),
    limits: str('AIPolicy: every limit and filter the policy sets', { maxLength: 1024 }),
    scope: str('AIPolicy: which requests it counts (routes, models, per API key)', { maxLength: 1024 }),
    match: str('AINamespace: how requests are recognised as this tenant', { maxLength: 1024 }),
    policies: str('AINamespace: the AIPolicies applied ("-" for none)', { maxLength: 1024 }),
  }),
});
export type Status = TypeOf<typeof status>;
export type Summary = NonNullable<Status['summary']>;

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string | Date;
  deletionTimestamp?: string | Date;
}

/** A custom resource as read from the API server or a YAML file. */
export interface Resource<Spec> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}

/** A printer column; `Ready` and `Programmed` read the conditions. */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

export const conditionColumn = (
  type: ConditionType,
  description: string,
  priority?: number,
): PrinterColumn => ({
  name: type,
  type: 'string',
  jsonPath: `.status.conditions[?(@.type=="${type}")].status`,
  description,
  ...(priority ? { priority } : {}),
});

/** The Ready condition's reason: what is wrong, at a glance (with -o wide). */
export const reasonColumn = (name: string, description: string, priority?: number): PrinterColumn => ({
  name,
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
  description,
  ...(priority ? { priority } : {}),
});

/** A status.summary field (see operator/src/controller/summary.ts); priority 1 = only with -o wide. */
export const summaryColumn = (
  name: string,
  field: keyof Summary,
  description: string,
  priority?: number,
): PrinterColumn => ({
  name,
  type: 'string',
  jsonPath: `.status.summary.${field}`,
  description,
  ...(priority ? { priority } : {}),
});

export const ageColumn: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'time since creation',
};
