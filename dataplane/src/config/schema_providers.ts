// The providers section of the config contract (schema.ts): a provider, its models and prices, and how
// its endpoints are reached, balanced and watched.
import { z } from 'zod';
import { name, secretSourceSchema, timeoutsSchema, timerMs } from './schema_shared.ts';

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
  intervalMs: timerMs().positive().default(10_000),
  timeoutMs: timerMs().positive().default(2_000),
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
  intervalMs: timerMs().min(100).default(1_000),
  timeoutMs: timerMs().positive().default(500),
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
  rateLimitHeaders: z
    .enum(['single-tenant', 'always', 'never'])
    .optional()
    .describe(
      "pass the provider's own rate-limit headers to clients as x-upstream-*: single-tenant (default) only while at most one namespace can reach this provider, since on a shared account they show the other tenants' use; always; never",
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
