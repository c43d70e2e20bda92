// The routes section of the config contract (schema.ts): what a route matches, the backends it balances
// over, its fallbacks, retries and complexity scoring.
import { z } from 'zod';
import { headerMatchSchema, name, timeoutsSchema, timerMs } from './schema_shared.ts';

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
  baseDelayMs: timerMs().nonnegative().default(50),
  maxDelayMs: timerMs().positive().default(2_000),
  budgetPercent: z.number().min(0).max(100).default(20).describe('retries allowed as % of recent requests'),
  onStatus: z
    .array(z.number().int().min(400).max(599))
    .default([429, 500, 502, 503, 504, 529])
    .describe("statuses worth another try; 529 is Anthropic's 'overloaded'"),
  respectRetryAfterMaxMs: timerMs().nonnegative().default(5_000),
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
