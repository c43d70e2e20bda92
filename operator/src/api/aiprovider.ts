// AIProvider: one upstream LLM endpoint (a provider type preset, its credentials and its models).
import {
  ageColumn,
  conditionColumn,
  duration,
  objectName,
  type Resource,
  reasonColumn,
  secretKeySelectorWithDefault,
  summaryColumn,
  timeouts,
} from './common.ts';
import type { KindDefinition } from './kind.ts';
import { arr, bool, cel, int, map, num, obj, oneOf, req, str, type TypeOf } from './schema_dsl.ts';

export const PICKERS = [
  'least-load',
  'least-outstanding',
  'latency',
  'round-robin',
  'random',
  'prefix-affinity',
] as const;

const model = obj('a model this provider serves', {
  name: req(str('model name as the upstream knows it, e.g. gpt-4o-mini', { minLength: 1, maxLength: 256 })),
  contextWindow: int('context window in tokens; longer prompts are rejected before the call', {
    minimum: 1,
  }),
  maxOutputTokens: int('largest completion the model can produce', { minimum: 1 }),
  pricing: obj('USD prices used for cost limits and metrics', {
    inputPerMTok: req(num('USD per million input tokens', { minimum: 0 })),
    outputPerMTok: req(num('USD per million output tokens', { minimum: 0 })),
    cachedInputPerMTok: num('USD per million cached input tokens', { minimum: 0 }),
  }),
  tokenizer: oneOf('tokenizer for exact token counts; defaults by model family', [
    'o200k_base',
    'cl100k_base',
    'estimate',
  ]),
  capabilities: arr(
    'what the model can do; requests needing anything else are rejected',
    oneOf('a capability', ['chat', 'completions', 'embeddings', 'tools', 'vision', 'json']),
    { maxItems: 6, 'x-kubernetes-list-type': 'set' },
  ),
});

const credentials = cel(
  obj('where the provider credentials come from: exactly one source, always a Secret', {
    apiKeySecretRef: secretKeySelectorWithDefault('a Secret key holding the API key', 'apiKey'),
    secretKeyRefs: arr(
      'several named credentials, e.g. accessKeyId and secretAccessKey for bedrock',
      obj('one named credential', {
        credential: req(
          str('credential name the provider type expects (apiKey, accessKeyId, secretAccessKey, ...)', {
            minLength: 1,
            maxLength: 63,
            pattern: '^[A-Za-z][A-Za-z0-9]*$',
          }),
        ),
        name: req(objectName('name of the Secret (same namespace)')),
        key: req(
          str("key in the Secret's data", { minLength: 1, maxLength: 253, pattern: '^[-._a-zA-Z0-9]+$' }),
        ),
      }),
      {
        minItems: 1,
        maxItems: 8,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['credential'],
      },
    ),
  }),
  {
    rule: '[has(self.apiKeySecretRef), has(self.secretKeyRefs)].filter(x, x).size() == 1',
    message: 'exactly one credential source must be set: apiKeySecretRef or secretKeyRefs',
  },
);

export const aiProviderSpec = cel(
  obj('desired state of an AIProvider', {
    type: req(
      str(
        'provider type (preset): openai, azure-openai, anthropic, gemini, bedrock, deepseek, qwen, vllm, ollama, mock, ...',
        { minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
      ),
    ),
    baseUrl: str('endpoint URL; overrides the preset default (required for azure-openai)', {
      maxLength: 2048,
      pattern: '^https?://[^\\s]+$',
    }),
    apiVersion: str('API version sent upstream (azure-openai api-version, anthropic-version, ...)', {
      minLength: 1,
      maxLength: 64,
    }),
    region: str('cloud region (bedrock, vertex)', { minLength: 1, maxLength: 64, pattern: '^[a-z0-9-]+$' }),
    credentials,
    headers: map('extra static headers sent upstream', str('header value', { maxLength: 4096 }), {
      maxProperties: 32,
    }),
    forwardBetas: arr(
      'anthropic-beta values a /v1/messages client may pass on to this (Anthropic-API) provider; omit to pass all, [] for none',
      str('a beta name', { pattern: '^[A-Za-z0-9._-]{1,128}$' }),
      { maxItems: 100, 'x-kubernetes-list-type': 'set' },
    ),
    rateLimitHeaders: oneOf(
      "pass the provider's own rate-limit headers to clients (as x-upstream-*): single-tenant (default) only while one AINamespace can reach this provider, as on a shared account they show the other tenants' use; always; never",
      ['single-tenant', 'always', 'never'],
    ),
    models: arr('models this provider serves, with their limits and prices', model, {
      maxItems: 512,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    }),
    timeouts,
    maxConcurrency: int('most calls in flight to this provider; more wait in a queue', {
      minimum: 1,
      maximum: 100_000,
    }),
    maxQueue: int('most calls waiting for a concurrency slot; more are rejected with 429', {
      minimum: 0,
      maximum: 100_000,
      default: 100,
    }),
    connections: int('HTTP connections per endpoint', { minimum: 1, maximum: 4096, default: 128 }),
    circuitBreaker: obj('ejects the provider after consecutive failures', {
      consecutiveFailures: int('failures in a row that open the circuit', { minimum: 1, default: 5 }),
      baseEjection: duration('first ejection time; doubles on each re-ejection', { default: '10s' }),
      maxEjection: duration('longest ejection time', { default: '5m' }),
    }),
    healthCheck: obj('active health probe of the upstream', {
      path: str('path probed with GET', { pattern: '^/', maxLength: 1024, default: '/models' }),
      interval: duration('time between probes', { default: '10s' }),
      timeout: duration('probe timeout', { default: '2s' }),
      unhealthyThreshold: int('failed probes before marking unhealthy', { minimum: 1, default: 2 }),
      healthyThreshold: int('passed probes before marking healthy', { minimum: 1, default: 1 }),
    }),
    service: obj('balance over the ready pods of a Service in this namespace instead of one baseUrl', {
      name: req(objectName('name of the Service (same namespace)')),
      port: int('the pod port number as listed in its EndpointSlices (e.g. 8000)', {
        minimum: 1,
        maximum: 65535,
      }),
      portName: str("the Service port's name (also the EndpointSlice port's name)", {
        minLength: 1,
        maxLength: 63,
        pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
      }),
      scheme: oneOf('scheme spoken to the pods', ['http', 'https'], { default: 'http' }),
      path: str("API path on every pod; defaults to the type's (e.g. /v1 for vllm)", {
        pattern: '^/',
        maxLength: 1024,
      }),
    }),
    endpointPicking: obj('how one pod is picked for each attempt (with service)', {
      picker: oneOf(
        'least-load (queue + KV cache from loadMetrics), least-outstanding, latency, round-robin, random or prefix-affinity; default least-load with loadMetrics, else least-outstanding',
        PICKERS,
      ),
      loadMetrics: obj("scrape each pod's own load metrics (vLLM, SGLang, TGI names by default)", {
        path: str('metrics path on each pod', { pattern: '^/', maxLength: 1024, default: '/metrics' }),
        interval: duration('time between scrapes', { default: '1s' }),
        timeout: duration('scrape timeout', { default: '500ms' }),
      }),
      prefixAffinity: obj('prefix-affinity picker: the same prompt prefix goes to the same pod', {
        prefixChars: int('characters of the prompt that form the prefix', {
          minimum: 1,
          maximum: 65_536,
          default: 1024,
        }),
        maxLoadFactor: num("a pod above this multiple of the average load (+1) loses the prefix's affinity", {
          minimum: 1,
          maximum: 100,
          default: 1.5,
        }),
      }),
    }),
    suspended: bool(
      'degrade switch: routes stop sending to this provider and use their next backends and fallbacks (every replica, at once)',
    ),
    mock: obj('behaviour of the built-in mock provider (type mock only)', {
      latency: duration('delay before the first byte'),
      chunkDelay: duration('delay between stream chunks'),
      outputTokens: int('tokens in every answer', { minimum: 1, maximum: 100_000 }),
      chunkTokens: int('tokens per stream chunk', { minimum: 1, maximum: 100_000 }),
      text: str('answer text', { maxLength: 65_536 }),
    }),
  }),
  {
    rule: "!has(self.mock) || self.type == 'mock'",
    message: 'mock settings are only allowed when type is mock',
    fieldPath: '.mock',
  },
  {
    rule: '!has(self.service) || !has(self.baseUrl)',
    message:
      'service and baseUrl are mutually exclusive: service balances over the pods, baseUrl names one endpoint',
    fieldPath: '.service',
  },
  {
    rule: '!has(self.service) || !has(self.service.port) || !has(self.service.portName)',
    message: 'set service.port or service.portName, not both',
    fieldPath: '.service',
  },
  {
    rule: "self.type != 'azure-openai' || has(self.baseUrl)",
    message: 'baseUrl is required when type is azure-openai',
    fieldPath: '.baseUrl',
    reason: 'FieldValueRequired',
  },
  {
    rule: "self.type != 'bedrock' || has(self.region)",
    message: 'region is required when type is bedrock',
    fieldPath: '.region',
    reason: 'FieldValueRequired',
  },
);
export type AIProviderSpec = TypeOf<typeof aiProviderSpec>;
export type AIProvider = Resource<AIProviderSpec>;

export const aiProviderKind: KindDefinition = {
  kind: 'AIProvider',
  plural: 'aiproviders',
  singular: 'aiprovider',
  shortNames: ['aip', 'aiprov'],
  description: 'An upstream LLM provider: a type preset, a Secret holding its credentials, and its models.',
  spec: aiProviderSpec.schema,
  printerColumns: [
    { name: 'Type', type: 'string', jsonPath: '.spec.type', description: 'provider type' },
    summaryColumn('Models', 'models', 'models declared ("*": any the upstream serves)'),
    conditionColumn('Ready', 'accepted, references resolved and programmed'),
    conditionColumn('Programmed', 'served by every live dataplane replica'),
    ageColumn,
    {
      name: 'Base-URL',
      type: 'string',
      jsonPath: '.spec.baseUrl',
      description: 'upstream base URL',
      priority: 1,
    },
    reasonColumn('Reason', 'why the provider is not Ready', 1),
  ],
};
