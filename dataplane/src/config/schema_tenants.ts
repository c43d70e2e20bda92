// The namespaces (tenants) and policies sections of the config contract (schema.ts): how a caller is
// matched to a namespace (API keys, headers, JWT) and the limits a policy sets on it.
import { z } from 'zod';
import { corsSchema, headerMatchSchema, name, secretSourceSchema } from './schema_shared.ts';

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
