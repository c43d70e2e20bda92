// The pieces of the config contract (schema.ts) that several of its sections use: object names, where a
// secret comes from, timeouts, header matches (routes and namespaces) and CORS (server and namespaces).
import { z } from 'zod';
import { patternProblem } from '../compiled/patterns.ts';

/** The name of a provider, route, namespace or policy: what the others refer to it by. */
export const name = z
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

/**
 * The longest delay a Node timer holds (2^31-1 ms, ~24.8 days); a longer one fires after 1 ms. A
 * timeout above it is held at it (compiled/compile.ts: "no limit" in practice); an interval or delay
 * above it is refused here, where it would otherwise probe or retry every millisecond.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
const TIMER_BOUND = `at most ${MAX_TIMER_MS} ms (~24.8 days), the longest a timer holds`;

/** A delay or interval that runs a timer: bounded to what a timer can hold. */
export const timerMs = () => z.number().int().max(MAX_TIMER_MS, TIMER_BOUND);

export const timeoutsSchema = z.strictObject({
  connectMs: z.number().int().positive().optional(),
  firstByteMs: z
    .number()
    .int()
    .positive()
    .optional()
    .describe("time to the answer's first byte (a stream's first event: a model may think first)"),
  idleMs: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('max gap between two reads of the answer, after its first byte'),
  totalMs: z.number().int().positive().optional(),
});
export type Timeouts = z.infer<typeof timeoutsSchema>;

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
        'x-client-request-id',
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
        'x-client-request-id',
        'x-sluice-error-code',
        'x-ratelimit-limit-requests',
        'x-ratelimit-remaining-requests',
        'x-ratelimit-reset-requests',
        'x-ratelimit-limit-tokens',
        'x-ratelimit-remaining-tokens',
        'x-ratelimit-reset-tokens',
        'retry-after',
        // the openai and anthropic SDKs read it to decide whether to retry a failed request
        'x-should-retry',
      ]),
    maxAgeSeconds: z.number().int().min(0).max(86_400).default(600),
    allowCredentials: z.boolean().default(false).describe('cookies are never used by Sluice; leave false'),
  })
  .refine((c) => !(c.allowCredentials && c.allowOrigins.includes('*')), {
    message: "allowCredentials cannot be used with the '*' origin",
    path: ['allowCredentials'],
  });
export type CorsConfig = z.infer<typeof corsSchema>;
