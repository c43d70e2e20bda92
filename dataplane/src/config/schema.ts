// The rendered-config contract between the operator and the dataplane.
// This is the ONLY definition of it: the operator imports these schemas and renders through them.
// Design goals: easy to render (plain lists keyed by `name`, no cross-object nesting beyond names),
// easy to diff (stable key order when serialised), strict (unknown keys are errors, so typos surface).
import { z } from 'zod';
import { patternProblem } from '../compiled/patterns.ts';

const name = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/, 'must be lowercase alphanumerics, "-", "_" or "."');

/** Where a secret value comes from. Inline values are not allowed: secrets never live in a ConfigMap. */
export const secretSourceSchema = z.union(
  [
    z.strictObject({ env: z.string().min(1).describe('environment variable holding the value') }),
    z.strictObject({
      file: z.string().min(1).describe('file holding the value; relative paths resolve against secretsDir'),
    }),
  ],
  // zod's own union message is "Invalid input"; say what is accepted (an inline key is the usual cause)
  {
    error: 'must be {env: VARIABLE} or {file: PATH}; secret values are never written inline in the config',
  },
);
export type SecretSource = z.infer<typeof secretSourceSchema>;

export const timeoutsSchema = z.strictObject({
  connectMs: z.number().int().positive().optional(),
  firstByteMs: z.number().int().positive().optional().describe('time to response headers / first token'),
  idleMs: z.number().int().positive().optional().describe('max gap between two stream chunks'),
  totalMs: z.number().int().positive().optional(),
});
export type Timeouts = z.infer<typeof timeoutsSchema>;

export const pricingSchema = z.strictObject({
  inputPerMTok: z.number().nonnegative().describe('USD per million input tokens'),
  outputPerMTok: z.number().nonnegative().describe('USD per million output tokens'),
  cachedInputPerMTok: z.number().nonnegative().optional(),
});
export type Pricing = z.infer<typeof pricingSchema>;

export const modelSchema = z.strictObject({
  name: z.string().min(1),
  contextWindow: z.number().int().positive().optional(),
  maxOutputTokens: z.number().int().positive().optional(),
  pricing: pricingSchema.optional(),
  tokenizer: z
    .enum(['o200k_base', 'cl100k_base', 'estimate'])
    .optional()
    .describe('defaults by model family'),
  capabilities: z.array(z.enum(['chat', 'completions', 'embeddings', 'tools', 'vision', 'json'])).optional(),
});
export type ModelConfig = z.infer<typeof modelSchema>;

export const mockSettingsSchema = z.strictObject({
  latencyMs: z.number().int().nonnegative().default(0).describe('delay before the first byte'),
  chunkDelayMs: z.number().int().nonnegative().default(0).describe('delay between stream chunks'),
  outputTokens: z.number().int().positive().default(16).describe('tokens in every answer'),
  chunkTokens: z.number().int().positive().default(1).describe('tokens per stream chunk'),
  text: z.string().optional().describe('answer text; defaults to a deterministic echo-style sentence'),
});
export type MockSettings = z.infer<typeof mockSettingsSchema>;

/** The admin listener: /metrics and detailed readiness, apart from the API port (admin_server.ts). */
export const adminSchema = z
  .strictObject({
    host: z.string().default('127.0.0.1').describe('address the admin port binds (the chart: 0.0.0.0)'),
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(9464)
      .describe(
        'serves /metrics, /readyz with details and /healthz; must differ from server.port (with server.port 0, any free port)',
      ),
  })
  .prefault({});

export const circuitBreakerSchema = z.strictObject({
  consecutiveFailures: z.number().int().positive().default(5),
  baseEjectionMs: z.number().int().positive().default(10_000),
  maxEjectionMs: z.number().int().positive().default(300_000),
});

export const healthCheckSchema = z.strictObject({
  path: z
    .string()
    .startsWith('/')
    .optional()
    .describe("path below baseUrl to probe; defaults to the provider type's health path (e.g. /models)"),
  intervalMs: z.number().int().positive().default(10_000),
  timeoutMs: z.number().int().positive().default(2_000),
  unhealthyThreshold: z.number().int().positive().default(2),
  healthyThreshold: z.number().int().positive().default(1),
});

/** Metric names read from each endpoint's Prometheus text (several series of one name are summed). */
export const loadMetricsSchema = z.strictObject({
  path: z
    .string()
    .startsWith('/')
    .default('/metrics')
    .describe("path on each endpoint's origin (not below baseUrl's path)"),
  intervalMs: z.number().int().min(100).default(1_000),
  timeoutMs: z.number().int().positive().default(500),
  queue: z.array(z.string().min(1)).optional().describe('requests waiting; default: vLLM, SGLang, TGI names'),
  running: z
    .array(z.string().min(1))
    .optional()
    .describe('requests running; default: vLLM, SGLang, TGI names'),
  kvCacheUsage: z
    .array(z.string().min(1))
    .optional()
    .describe('KV-cache usage, 0..1 (the highest series counts); default: vLLM and SGLang names'),
});
export type LoadMetricsConfig = z.infer<typeof loadMetricsSchema>;

/** A provider served by several endpoints (pods): a static list or a Kubernetes Service's EndpointSlices. */
export const endpointsSchema = z
  .strictObject({
    static: z
      .array(z.url())
      .min(1)
      .max(4096)
      .optional()
      .describe('origins such as http://10.0.0.7:8000; the API path comes from basePath'),
    kubernetes: z
      .strictObject({
        namespace: name,
        service: name,
        port: z
          .union([z.number().int().min(1).max(65535), z.string().min(1).max(63)])
          .optional()
          .describe("the EndpointSlice port: its name (the Service port's name) or the pod port number"),
        scheme: z.enum(['http', 'https']).default('http'),
      })
      .optional(),
    basePath: z
      .string()
      .startsWith('/')
      .optional()
      .describe("API path on every endpoint; defaults to baseUrl's path or the preset's (e.g. /v1)"),
    picker: z
      .enum(['least-load', 'least-outstanding', 'latency', 'round-robin', 'random', 'prefix-affinity'])
      .optional()
      .describe(
        'how one endpoint is picked per attempt; default least-load with loadMetrics, else least-outstanding',
      ),
    loadMetrics: loadMetricsSchema.optional(),
    prefixAffinity: z
      .strictObject({
        prefixChars: z.number().int().positive().max(65_536).default(1_024),
        maxLoadFactor: z
          .number()
          .min(1)
          .default(1.5)
          .describe("an endpoint above this multiple of the average load (+1) loses the prefix's affinity"),
      })
      .optional(),
  })
  .refine((e) => (e.static === undefined) !== (e.kubernetes === undefined), {
    message: 'exactly one of static, kubernetes',
  });
export type EndpointsConfig = z.infer<typeof endpointsSchema>;

export const providerSchema = z.strictObject({
  name,
  type: z
    .string()
    .min(1)
    .describe(
      'provider type or preset: openai, anthropic, gemini, bedrock, azure-openai, mock, deepseek, ...',
    ),
  baseUrl: z.url().optional().describe('overrides the preset default'),
  credentials: z
    .record(z.string(), secretSourceSchema)
    .optional()
    .describe('named secret values the provider needs, e.g. apiKey, accessKeyId, secretAccessKey'),
  apiVersion: z.string().optional().describe('azure-openai api-version, anthropic-version, ...'),
  region: z.string().optional().describe('bedrock / vertex region'),
  headers: z.record(z.string(), z.string()).optional().describe('extra static request headers'),
  forwardBetas: z
    .array(z.string().min(1).max(128))
    .max(100)
    .optional()
    .describe(
      'anthropic-beta values a client may pass on to this (Anthropic-API) provider; omit to pass all, [] for none',
    ),
  models: z.array(modelSchema).default([]),
  timeouts: timeoutsSchema.optional(),
  maxConcurrency: z.number().int().positive().optional(),
  maxQueue: z.number().int().nonnegative().default(100),
  connections: z.number().int().positive().default(128).describe('undici pool size per endpoint'),
  circuitBreaker: circuitBreakerSchema.optional(),
  healthCheck: healthCheckSchema.optional(),
  mock: mockSettingsSchema.optional(),
  endpoints: endpointsSchema.optional().describe('balance over several endpoints (pods) instead of baseUrl'),
  suspended: z
    .boolean()
    .optional()
    .describe('degrade switch: routes skip this provider and use their next backends and fallbacks'),
});
export type ProviderConfig = z.infer<typeof providerSchema>;

export const headerMatchSchema = z
  .strictObject({
    name: z.string().min(1),
    equals: z.string().optional(),
    in: z.array(z.string()).optional(),
    regex: z
      .string()
      .superRefine((p, ctx) => {
        const why = patternProblem(p);
        if (why) ctx.addIssue({ code: 'custom', message: why });
      })
      .optional()
      .describe('RE2 syntax (linear time): no backreferences or lookaround'),
    present: z.boolean().optional(),
  })
  .refine((h) => [h.equals, h.in, h.regex, h.present].filter((v) => v !== undefined).length === 1, {
    message: 'exactly one of equals, in, regex, present',
  });
export type HeaderMatch = z.infer<typeof headerMatchSchema>;

export const backendSchema = z.strictObject({
  provider: name,
  model: z.string().optional().describe('model name sent upstream; defaults to the requested model'),
  weight: z.number().int().nonnegative().default(1),
  tier: z.enum(['cheap', 'strong']).optional().describe('for the complexity strategy'),
  suspended: z.boolean().optional().describe('degrade switch: this backend takes no traffic'),
});
export type BackendConfig = z.infer<typeof backendSchema>;

export const retrySchema = z.strictObject({
  attempts: z
    .number()
    .int()
    .nonnegative()
    .default(2)
    .describe('retries after the first try, across backends'),
  baseDelayMs: z.number().int().nonnegative().default(50),
  maxDelayMs: z.number().int().positive().default(2_000),
  budgetPercent: z.number().min(0).max(100).default(20).describe('retries allowed as % of recent requests'),
  onStatus: z
    .array(z.number().int().min(400).max(599))
    .default([429, 500, 502, 503, 504, 529])
    .describe("statuses worth another try; 529 is Anthropic's 'overloaded'"),
  respectRetryAfterMaxMs: z.number().int().nonnegative().default(5_000),
});
export type RetryConfig = z.infer<typeof retrySchema>;

export const complexitySchema = z.strictObject({
  strongThreshold: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe('score at or above which the strong tier is used'),
  weights: z
    .strictObject({
      length: z.number().nonnegative().default(0.35),
      code: z.number().nonnegative().default(0.25),
      reasoning: z.number().nonnegative().default(0.25),
      turns: z.number().nonnegative().default(0.15),
    })
    .prefault({}),
});

export const routeSchema = z.strictObject({
  name,
  match: z
    .strictObject({
      models: z
        .array(z.string().min(1))
        .optional()
        .describe('exact names or globs such as gpt-4o* ; omit for any'),
      paths: z.array(z.string().startsWith('/')).optional().describe('path prefixes, e.g. /api/chat'),
      headers: z.array(headerMatchSchema).optional(),
    })
    .prefault({}),
  strategy: z
    .enum(['weighted-random', 'round-robin', 'least-outstanding', 'latency', 'cost', 'complexity'])
    .default('weighted-random'),
  backends: z.array(backendSchema).min(1),
  fallback: z.array(backendSchema).default([]).describe('tried in order after the balanced backends fail'),
  retry: retrySchema.prefault({}),
  timeouts: timeoutsSchema.optional(),
  complexity: complexitySchema.optional(),
  cache: z
    .strictObject({
      enabled: z.boolean().default(false),
      ttlSeconds: z.number().int().positive().default(300),
    })
    .optional(),
});
export type RouteConfig = z.infer<typeof routeSchema>;

const windowSchema = z.enum(['second', 'minute', 'hour', 'day', 'month']);

export const policySchema = z.strictObject({
  name,
  scope: z
    .strictObject({
      routes: z.array(name).optional(),
      models: z.array(z.string()).optional(),
      perApiKey: z.boolean().default(false).describe('count limits per API key instead of per namespace'),
    })
    .optional(),
  requests: z
    .strictObject({
      limit: z.number().int().positive(),
      window: windowSchema,
      burst: z.number().int().positive().optional(),
    })
    .optional(),
  concurrency: z.strictObject({ max: z.number().int().positive() }).optional(),
  maxInputTokens: z.number().int().positive().optional(),
  maxOutputTokens: z
    .strictObject({ limit: z.number().int().positive(), mode: z.enum(['clamp', 'reject']).default('clamp') })
    .optional(),
  tokens: z
    .array(
      z.strictObject({
        limit: z.number().int().positive(),
        window: windowSchema,
        kind: z.enum(['input', 'output', 'total']).default('total'),
      }),
    )
    .optional(),
  budget: z.strictObject({ usd: z.number().positive(), window: windowSchema }).optional(),
  maxPromptChars: z.number().int().positive().optional(),
  contentFilters: z
    .array(z.strictObject({ name, pattern: z.string().min(1), flags: z.string().optional() }))
    .optional(),
  models: z
    .strictObject({ allow: z.array(z.string()).optional(), deny: z.array(z.string()).optional() })
    .optional(),
  traceContent: z
    .boolean()
    .optional()
    .describe(
      "record prompts and whole answers on this namespace's trace spans (redacted like logs); off by default",
    ),
  reserveOutputTokens: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      'output tokens reserved against token/cost windows when a request sets no max tokens (default: the model maxOutputTokens, else 4096); the answer is capped to it',
    ),
});
export type PolicyConfig = z.infer<typeof policySchema>;

export const apiKeySchema = z.strictObject({
  name: z.string().min(1),
  sha256: z.string().regex(/^[a-f0-9]{64}$/, 'must be a lowercase hex SHA-256 digest'),
});

export const jwtMatchSchema = z.strictObject({
  issuer: z.string().optional(),
  audience: z.string().optional(),
  algorithms: z.array(z.enum(['HS256', 'RS256', 'ES256'])).min(1),
  secret: secretSourceSchema.optional().describe('HS256 shared secret'),
  publicKey: secretSourceSchema.optional().describe('PEM public key for RS256/ES256'),
  jwksFile: z.string().optional(),
  claim: z.string().default('namespace').describe('claim whose value must equal the namespace name'),
  requireExp: z
    .boolean()
    .default(true)
    .describe('refuse tokens without an exp claim (set false only for issuers that cannot set one)'),
});

const ORIGIN = /^(\*|https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?)$/;

/**
 * CORS for browser clients (proxy/cors.ts), off unless set. Preflights are answered without touching
 * limits; an actual request gets Access-Control-Allow-Origin only when its tenant allows the origin.
 */
export const corsSchema = z
  .strictObject({
    allowOrigins: z
      .array(z.string().regex(ORIGIN, 'an origin such as https://app.example.com, or *'))
      .min(1)
      .max(100),
    allowMethods: z.array(z.enum(['GET', 'POST', 'DELETE'])).default(['GET', 'POST', 'DELETE']),
    allowHeaders: z
      .array(z.string().regex(/^[A-Za-z0-9-]{1,64}$/))
      .max(50)
      .default([
        'authorization',
        'content-type',
        'x-api-key',
        'anthropic-version',
        'anthropic-beta',
        'openai-organization',
        'openai-project',
        'x-stainless-os',
        'x-stainless-lang',
        'x-stainless-package-version',
        'x-stainless-runtime',
        'x-stainless-runtime-version',
        'x-stainless-arch',
        'x-stainless-retry-count',
        'x-stainless-timeout',
        'anthropic-dangerous-direct-browser-access',
      ]),
    exposeHeaders: z
      .array(z.string().regex(/^[A-Za-z0-9-]{1,64}$/))
      .max(50)
      .default([
        'x-request-id',
        'x-sluice-error-code',
        'x-ratelimit-limit-requests',
        'x-ratelimit-remaining-requests',
        'x-ratelimit-reset-requests',
        'x-ratelimit-limit-tokens',
        'x-ratelimit-remaining-tokens',
        'x-ratelimit-reset-tokens',
        'retry-after',
      ]),
    maxAgeSeconds: z.number().int().min(0).max(86_400).default(600),
    allowCredentials: z.boolean().default(false).describe('cookies are never used by Sluice; leave false'),
  })
  .refine((c) => !(c.allowCredentials && c.allowOrigins.includes('*')), {
    message: "allowCredentials cannot be used with the '*' origin",
    path: ['allowCredentials'],
  });
export type CorsConfig = z.infer<typeof corsSchema>;

export const namespaceSchema = z.strictObject({
  name,
  default: z.boolean().default(false).describe('serves requests that carry no credentials'),
  match: z
    .strictObject({
      apiKeys: z.array(apiKeySchema).optional(),
      apiKeysFile: z.string().optional().describe('JSON list of {name, sha256}; relative to secretsDir'),
      headers: z.array(headerMatchSchema).optional(),
      jwt: jwtMatchSchema.optional(),
    })
    .prefault({}),
  routes: z.array(name).optional().describe('routes this namespace may use; omit for all'),
  models: z
    .array(z.string())
    .optional()
    .describe('model names or globs this namespace may use; omit for all'),
  policies: z.array(name).default([]),
  rejected: z
    .string()
    .min(1)
    .max(2000)
    .optional()
    .describe(
      'the operator left this tenant out (the reason); callers it matches get 403 instead of falling through to another tenant',
    ),
  cache: z
    .strictObject({
      enabled: z.boolean().default(false),
      ttlSeconds: z.number().int().positive().optional().describe("overrides the route's cache TTL"),
    })
    .optional(),
  limits: z
    .strictObject({
      maxBodyBytes: z
        .number()
        .int()
        .positive()
        .optional()
        .describe("request body limit for this namespace's callers; only lowers server.bodyLimitBytes"),
    })
    .optional(),
  cors: corsSchema.optional().describe('browser access for this tenant (off unless set)'),
});
export type NamespaceConfig = z.infer<typeof namespaceSchema>;

export const storeSchema = z
  .strictObject({
    type: z.enum(['memory', 'redis']).default('memory'),
    redis: z
      .strictObject({
        url: z.string().min(1).describe('redis://, rediss://, redis-sentinel:// or a comma list for cluster'),
        password: secretSourceSchema.optional(),
        keyPrefix: z.string().default('sluice:'),
        commandTimeoutMs: z
          .number()
          .int()
          .positive()
          .default(250)
          .describe(
            "how long a request waits on one Redis command, not counting the dataplane's own event-loop delay",
          ),
        failMode: z.enum(['open', 'closed']).default('open'),
        replicas: z
          .number()
          .int()
          .positive()
          .default(1)
          .describe('for fail-open: each replica takes limit/N locally'),
        failureThreshold: z
          .number()
          .int()
          .positive()
          .default(5)
          .describe('consecutive failed commands that open the circuit to Redis (with openAfterMs)'),
        openAfterMs: z
          .number()
          .int()
          .nonnegative()
          .default(1_000)
          .describe('how long commands must keep failing before the circuit opens'),
        retryIntervalMs: z
          .number()
          .int()
          .positive()
          .default(1_000)
          .describe('how often an open circuit probes Redis to recover'),
        connectTimeoutMs: z.number().int().positive().default(2_000),
      })
      .optional(),
  })
  .prefault({});

/** OpenTelemetry traces (observability/tracing.ts): off unless `enabled`; exported over OTLP/HTTP. */
export const tracingSchema = z.strictObject({
  enabled: z.boolean().default(false),
  endpoint: z
    .url()
    .default('http://127.0.0.1:4318/v1/traces')
    .describe('OTLP/HTTP (protobuf) traces URL of a collector, e.g. http://otel-collector:4318/v1/traces'),
  headers: z
    .record(z.string().regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name'), secretSourceSchema)
    .optional()
    .describe('sent with every export (e.g. authorization), each from an environment variable or a file'),
  samplingRatio: z
    .number()
    .min(0)
    .max(1)
    .default(1)
    .describe("share of new traces recorded; a client's traceparent decides for its own traces"),
  serviceName: z.string().min(1).default('sluice-dataplane'),
  resourceAttributes: z
    .record(z.string().min(1), z.string())
    .default({})
    .describe('added to every span, e.g. deployment.environment.name: prod'),
  exportTimeoutMs: z.number().int().positive().default(10_000),
});
export type TracingConfig = z.infer<typeof tracingSchema>;

export const serverSchema = z
  .strictObject({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    admin: adminSchema,
    cors: corsSchema
      .optional()
      .describe('browser access when there are no tenants (access: open); tenants set their own'),
    bodyLimitBytes: z
      .number()
      .int()
      .positive()
      .default(10 * 1024 * 1024),
    maxResponseBytes: z
      .number()
      .int()
      .positive()
      .default(64 * 1024 * 1024),
    memoryBudgetBytes: z
      .number()
      .int()
      .positive()
      .default(160 * 1024 * 1024)
      .describe(
        'bytes that request bodies and whole upstream answers in flight may hold together; beyond it requests get 503 with Retry-After (docs/security.md, sizing)',
      ),
    secretsDir: z
      .string()
      .optional()
      .describe('base for relative secret file paths; defaults to the config folder'),
    drainTimeoutMs: z.number().int().positive().default(30_000),
    drainDelayMs: z
      .number()
      .int()
      .nonnegative()
      .default(0)
      .describe(
        'after SIGTERM, keep accepting (answering with connection: close) this long before closing the listener',
      ),
    requestReceiveTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(30_000)
      .describe('max time to receive a request (headers and body); slow senders get 408'),
    maxHeaderBytes: z
      .number()
      .int()
      .positive()
      .default(16 * 1024),
    timeouts: timeoutsSchema.prefault({}),
    logPrompts: z.boolean().default(false),
    exposeProvider: z
      .boolean()
      .default(false)
      .describe(
        'send x-sluice-provider (the internal provider name) on answers; off: clients never learn it',
      ),
    tracing: tracingSchema.optional(),
  })
  .prefault({});

export const cacheSchema = z
  .strictObject({
    maxEntries: z.number().int().positive().default(10_000),
    maxEntryBytes: z
      .number()
      .int()
      .positive()
      .default(1024 * 1024),
    maxBytes: z
      .number()
      .int()
      .positive()
      .default(64 * 1024 * 1024)
      .describe('total bytes of the in-memory (L1) response cache'),
  })
  .prefault({});

/** Conversation state of the Responses API (previous_response_id), kept in the store; responses/state.ts. */
export const responsesSchema = z
  .strictObject({
    ttlSeconds: z
      .number()
      .int()
      .positive()
      .max(90 * 86_400)
      .default(7 * 86_400)
      .describe('how long a stored response can be continued or fetched'),
    maxRecordBytes: z
      .number()
      .int()
      .positive()
      .default(8 * 1024 * 1024)
      .describe('a response whose conversation is larger is answered but not stored'),
    memoryMaxBytes: z
      .number()
      .int()
      .positive()
      .default(64 * 1024 * 1024)
      .describe('total bytes of stored responses in memory (memory store only; oldest dropped first)'),
  })
  .prefault({});

/**
 * Written by the operator: for each custom resource in this config ("Kind/namespace/name"), the
 * generation rendered and the config revision since which that generation has been in every config.
 * A replica reports the revision it serves (its Lease), so the operator can tell, per object, whether
 * every replica serves its current generation (Programmed); see docs/operator.md.
 */
export const renderedObjectsSchema = z.record(
  z.string().min(1).max(512),
  z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
);
export type RenderedObjects = z.infer<typeof renderedObjectsSchema>;

/** Hosts / CIDRs providers may or may not reach (proxy/egress.ts has the rules). */
export const egressSchema = z.strictObject({
  allow: z
    .array(z.string().min(1).max(253))
    .max(1000)
    .optional()
    .describe('hosts, *.wildcards, IPs or CIDRs allowed even where a deny entry (or link-local) matches'),
  deny: z
    .array(z.string().min(1).max(253))
    .max(1000)
    .optional()
    .describe('hosts, *.wildcards, IPs or CIDRs no provider may reach; link-local ranges are always denied'),
});
export type EgressConfig = z.infer<typeof egressSchema>;

export const configSchema = z.strictObject({
  version: z.literal(1).default(1),
  access: z
    .enum(['open', 'tenants'])
    .optional()
    .describe(
      'open: no tenants, every caller is served; tenants: only callers a namespace matches (none listed = every request is 401). Required when no namespaces are listed',
    ),
  egress: egressSchema.optional(),
  server: serverSchema,
  store: storeSchema,
  cache: cacheSchema,
  responses: responsesSchema,
  providers: z.array(providerSchema).min(1),
  routes: z.array(routeSchema).min(1),
  namespaces: z.array(namespaceSchema).default([]),
  policies: z.array(policySchema).default([]),
  revision: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('written by the operator: grows by one with every config it renders that differs'),
  objects: renderedObjectsSchema.optional(),
});
export type SluiceConfig = z.infer<typeof configSchema>;
export type SluiceConfigInput = z.input<typeof configSchema>;
