// AINamespace: a tenant. Requests are matched to it by API key, header (such as X-Channel-Code) or JWT,
// and it gets the routes, models and AIPolicies its spec lists.
import {
  ageColumn,
  conditionColumn,
  duration,
  headerMatches,
  objectName,
  type Resource,
  reasonColumn,
  secretKeySelector,
  secretRef,
  summaryColumn,
} from './common.ts';
import type { KindDefinition } from './kind.ts';
import { arr, bool, cel, int, obj, oneOf, req, str, type TypeOf } from './schema_dsl.ts';

const jwt = cel(
  obj('accepts bearer JWTs signed by a known key; a claim names the tenant', {
    issuer: str('required iss claim', { minLength: 1, maxLength: 1024 }),
    audience: str('required aud claim', { minLength: 1, maxLength: 1024 }),
    algorithms: req(
      arr('accepted signing algorithms', oneOf('an algorithm', ['HS256', 'RS256', 'ES256']), {
        minItems: 1,
        maxItems: 3,
        'x-kubernetes-list-type': 'set',
      }),
    ),
    secretRef: secretKeySelector('the HS256 shared secret'),
    publicKeySecretRef: secretKeySelector('a PEM public key for RS256/ES256'),
    jwksSecretRef: secretKeySelector('a JWKS document for RS256/ES256'),
    claim: str('claim whose value must equal this AINamespace name', {
      minLength: 1,
      maxLength: 256,
      default: 'namespace',
    }),
  }),
  {
    rule: '[has(self.secretRef), has(self.publicKeySecretRef), has(self.jwksSecretRef)].filter(x, x).size() == 1',
    message: 'set exactly one of secretRef, publicKeySecretRef or jwksSecretRef',
  },
  {
    rule: "!('HS256' in self.algorithms) || size(self.algorithms) == 1",
    message: 'HS256 cannot be combined with RS256 or ES256 (one key kind per namespace)',
    fieldPath: '.algorithms',
  },
  {
    rule: "!('HS256' in self.algorithms) || has(self.secretRef)",
    message: 'secretRef is required when algorithms include HS256',
    fieldPath: '.secretRef',
    reason: 'FieldValueRequired',
  },
  {
    rule: "!('RS256' in self.algorithms || 'ES256' in self.algorithms) || has(self.publicKeySecretRef) || has(self.jwksSecretRef)",
    message: 'publicKeySecretRef or jwksSecretRef is required when algorithms include RS256 or ES256',
    fieldPath: '.publicKeySecretRef',
    reason: 'FieldValueRequired',
  },
);

export const aiNamespaceSpec = cel(
  obj('desired state of an AINamespace (a tenant)', {
    default: bool('serves requests that carry no credentials (at most one per gateway)', { default: false }),
    match: obj('how requests are recognised as this tenant; any one method matching is enough', {
      apiKeys: obj('client API keys kept in Secrets; only their SHA-256 hashes reach the dataplane', {
        secretRefs: req(
          arr(
            'Secrets whose every data entry is one API key (entry name = key label, value = the key)',
            secretRef('a Secret of API keys'),
            {
              minItems: 1,
              maxItems: 16,
              'x-kubernetes-list-type': 'map',
              'x-kubernetes-list-map-keys': ['name'],
            },
          ),
        ),
      }),
      headers: headerMatches('request headers that must all match, e.g. X-Channel-Code equals ch-001'),
      jwt,
    }),
    routes: arr(
      'AIRoutes (same namespace) this tenant may use; omit for every AIRoute in the namespace',
      objectName('an AIRoute name'),
      { maxItems: 256, 'x-kubernetes-list-type': 'set' },
    ),
    models: arr(
      'model names or globs this tenant may request; omit for any',
      str('a model name or glob', { minLength: 1, maxLength: 256 }),
      { maxItems: 256 },
    ),
    policies: arr('AIPolicies (same namespace) applied to this tenant', objectName('an AIPolicy name'), {
      maxItems: 32,
      'x-kubernetes-list-type': 'set',
    }),
    cache: obj('response cache for this tenant', {
      enabled: bool('use the response cache', { default: false }),
      ttl: duration("how long a cached response is served; overrides the route's TTL"),
    }),
    limits: obj('size limits for this tenant (docs/security.md)', {
      maxBodyBytes: int(
        "largest request body this tenant may send, in bytes; only lowers the gateway's server.bodyLimitBytes",
        { minimum: 1024, maximum: 1024 * 1024 * 1024 },
      ),
    }),
    cors: obj('browser access for this tenant (CORS); off unless set', {
      allowOrigins: req(
        arr(
          "origins allowed to call with this tenant's credentials, e.g. https://app.example.com, or *",
          str('an origin', { pattern: '^(\\*|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?)$', maxLength: 300 }),
          { minItems: 1, maxItems: 100, 'x-kubernetes-list-type': 'set' },
        ),
      ),
      allowMethods: arr(
        'methods allowed (default GET, POST, DELETE)',
        oneOf('a method', ['GET', 'POST', 'DELETE']),
        {
          maxItems: 3,
          'x-kubernetes-list-type': 'set',
        },
      ),
      allowHeaders: arr(
        "request headers allowed (default: the SDKs' headers)",
        str('a header name', { pattern: '^[A-Za-z0-9-]{1,64}$' }),
        { maxItems: 50, 'x-kubernetes-list-type': 'set' },
      ),
      maxAgeSeconds: int('how long a browser may cache a preflight', { minimum: 0, maximum: 86400 }),
    }),
  }),
  {
    rule: 'self.default || (has(self.match) && (has(self.match.apiKeys) || has(self.match.headers) || has(self.match.jwt)))',
    message:
      'set at least one of match.apiKeys, match.headers or match.jwt, or make this the default namespace',
    fieldPath: '.match',
    reason: 'FieldValueRequired',
  },
);
export type AINamespaceSpec = TypeOf<typeof aiNamespaceSpec>;
export type AINamespace = Resource<AINamespaceSpec>;

export const aiNamespaceKind: KindDefinition = {
  kind: 'AINamespace',
  plural: 'ainamespaces',
  singular: 'ainamespace',
  shortNames: ['ains', 'tenant'],
  description:
    'A tenant of the gateway, matched by API key, header (e.g. X-Channel-Code) or JWT, with its policies.',
  spec: aiNamespaceSpec.schema,
  printerColumns: [
    summaryColumn('Match', 'match', 'how requests are recognised as this tenant'),
    summaryColumn('Policies', 'policies', 'AIPolicies applied'),
    conditionColumn('Ready', 'accepted, references resolved and programmed'),
    conditionColumn('Programmed', 'served by every live dataplane replica'),
    ageColumn,
    summaryColumn('Models', 'models', 'models the tenant may use ("*" for any)', 1),
    reasonColumn('Reason', 'why the tenant is not Ready', 1),
  ],
};
