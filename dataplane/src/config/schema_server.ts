// The process-wide sections of the config contract (schema.ts): the listeners and their limits (server,
// admin), tracing, the store (memory or Redis), the response cache, Responses API state and egress.
import { z } from 'zod';
import { corsSchema, secretSourceSchema, timeoutsSchema, timerMs } from './schema_shared.ts';

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

export const storeSchema = z
  .strictObject({
    type: z.enum(['memory', 'redis']).default('memory'),
    redis: z
      .strictObject({
        url: z.string().min(1).describe('redis://, rediss://, redis-sentinel:// or a comma list for cluster'),
        password: secretSourceSchema.optional(),
        keyPrefix: z.string().default('sluice:'),
        commandTimeoutMs: timerMs()
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
        openAfterMs: timerMs()
          .nonnegative()
          .default(1_000)
          .describe('how long commands must keep failing before the circuit opens'),
        retryIntervalMs: timerMs()
          .positive()
          .default(1_000)
          .describe('how often an open circuit probes Redis to recover'),
        connectTimeoutMs: timerMs().positive().default(2_000),
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
  clientTraceContext: z
    .enum(['link', 'parent'])
    .default('link')
    .describe(
      "a caller's traceparent: `link` starts Sluice's own trace linked to it (callers cannot join or forge another's trace); `parent` continues it (trusted callers only)",
    ),
  serviceName: z.string().min(1).default('sluice-dataplane'),
  resourceAttributes: z
    .record(z.string().min(1), z.string())
    .default({})
    .describe('added to every span, e.g. deployment.environment.name: prod'),
  exportTimeoutMs: timerMs().positive().default(10_000),
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
    drainTimeoutMs: timerMs().positive().default(30_000),
    drainDelayMs: timerMs()
      .nonnegative()
      .default(0)
      .describe(
        'after SIGTERM, keep accepting (answering with connection: close) this long before closing the listener',
      ),
    requestReceiveTimeoutMs: timerMs()
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
    redisMaxBytesPerTenant: z
      .number()
      .int()
      .positive()
      .default(64 * 1024 * 1024)
      .describe(
        "each tenant's entries in the Redis (L2) response cache; when full, that tenant's entries that expire soonest make room",
      ),
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
      .describe(
        'total bytes of stored responses in memory (memory store only; when full, the oldest record of the tenant holding the most is dropped)',
      ),
    redisMaxBytesPerTenant: z
      .number()
      .int()
      .positive()
      .default(256 * 1024 * 1024)
      .describe(
        "each tenant's stored responses and items in Redis (Redis store only; when full, that tenant's oldest records are deleted to make room)",
      ),
  })
  .prefault({});

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
