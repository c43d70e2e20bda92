// The rendered-config contract between the operator and the dataplane.
// This is the ONLY definition of it: the operator imports these schemas and renders through them.
// Design goals: easy to render (plain lists keyed by `name`, no cross-object nesting beyond names),
// easy to diff (stable key order when serialised), strict (unknown keys are errors, so typos surface).
// The sections are defined in schema_providers.ts, schema_routes.ts, schema_tenants.ts (namespaces and
// policies), schema_server.ts (server, store, cache, ...) and schema_shared.ts (what several use); this
// file puts them together and re-exports them, so it stays the one module the rest imports.
import { z } from 'zod';
import { providerSchema } from './schema_providers.ts';
import { routeSchema } from './schema_routes.ts';
import { cacheSchema, egressSchema, responsesSchema, serverSchema, storeSchema } from './schema_server.ts';
import { namespaceSchema, policySchema } from './schema_tenants.ts';

export {
  circuitBreakerSchema,
  type EndpointsConfig,
  endpointsSchema,
  healthCheckSchema,
  type LoadMetricsConfig,
  loadMetricsSchema,
  type MockSettings,
  type ModelConfig,
  mockSettingsSchema,
  modelSchema,
  type Pricing,
  type ProviderConfig,
  pricingSchema,
  providerSchema,
} from './schema_providers.ts';
export {
  type BackendConfig,
  backendSchema,
  complexitySchema,
  type RetryConfig,
  type RouteConfig,
  retrySchema,
  routeSchema,
} from './schema_routes.ts';
export {
  adminSchema,
  cacheSchema,
  type EgressConfig,
  egressSchema,
  responsesSchema,
  serverSchema,
  storeSchema,
  type TracingConfig,
  tracingSchema,
} from './schema_server.ts';
export {
  type CorsConfig,
  corsSchema,
  type HeaderMatch,
  headerMatchSchema,
  type SecretSource,
  secretSourceSchema,
  type Timeouts,
  timeoutsSchema,
} from './schema_shared.ts';
export {
  apiKeySchema,
  jwtMatchSchema,
  type NamespaceConfig,
  namespaceSchema,
  type PolicyConfig,
  policySchema,
} from './schema_tenants.ts';

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
