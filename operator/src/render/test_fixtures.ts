// Builders for renderer tests: minimal valid objects of each kind, overridable.
import type { AINamespace, AINamespaceSpec } from '../api/ainamespace.ts';
import type { AIPolicy, AIPolicySpec } from '../api/aipolicy.ts';
import type { AIProvider, AIProviderSpec } from '../api/aiprovider.ts';
import type { AIRoute, AIRouteSpec } from '../api/airoute.ts';
import { API_VERSION } from '../api/common.ts';
import type { Inventory, SecretEntries } from './types.ts';

let seq = 0;
function meta(name: string, namespace: string) {
  seq++;
  return {
    name,
    namespace,
    generation: 1,
    uid: `uid-${seq}`,
    creationTimestamp: new Date(1_700_000_000_000 + seq * 1000).toISOString(),
  };
}

export function provider(name: string, spec: Partial<AIProviderSpec> = {}, namespace = 'team-a'): AIProvider {
  return {
    apiVersion: API_VERSION,
    kind: 'AIProvider',
    metadata: meta(name, namespace),
    spec: {
      type: 'openai',
      credentials: { apiKeySecretRef: { name: `${name}-key`, key: 'apiKey' } },
      ...spec,
    },
  };
}

export function route(
  name: string,
  providers: string[],
  spec: Partial<AIRouteSpec> = {},
  namespace = 'team-a',
): AIRoute {
  return {
    apiVersion: API_VERSION,
    kind: 'AIRoute',
    metadata: meta(name, namespace),
    spec: { backends: providers.map((p) => ({ providerRef: { name: p } })), ...spec },
  };
}

export function tenant(name: string, spec: Partial<AINamespaceSpec> = {}, namespace = 'team-a'): AINamespace {
  return { apiVersion: API_VERSION, kind: 'AINamespace', metadata: meta(name, namespace), spec: { ...spec } };
}

export function policy(name: string, spec: Partial<AIPolicySpec> = {}, namespace = 'team-a'): AIPolicy {
  return {
    apiVersion: API_VERSION,
    kind: 'AIPolicy',
    metadata: meta(name, namespace),
    spec: { requests: { limit: 10, window: 'second' }, ...spec },
  };
}

export function inventory(
  parts: Partial<Omit<Inventory, 'secrets'>> & { secrets?: Record<string, SecretEntries> },
): Inventory {
  return {
    providers: parts.providers ?? [],
    routes: parts.routes ?? [],
    namespaces: parts.namespaces ?? [],
    policies: parts.policies ?? [],
    secrets: new Map(Object.entries(parts.secrets ?? {})),
  };
}
