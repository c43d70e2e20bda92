// AIProvider -> dataplane provider entry. Credentials become {file} references into the output Secret.
import { getPreset, listPresets, type SecretSource } from '../../../dataplane/src/config/contract.ts';
import type { AIProvider } from '../api/aiprovider.ts';
import { Findings } from './findings.ts';
import { type SecretReader, secretFileName } from './secrets.ts';
import { dataplaneName, namespaceOf, type ProviderInput } from './types.ts';
import { compact, ms, renderTimeouts } from './util.ts';

export interface Rendered<T> {
  findings: Findings;
  input: T;
}

export function renderProvider(
  p: AIProvider,
  secrets: SecretReader,
  secretOut: Record<string, string>,
): Rendered<ProviderInput> {
  const findings = new Findings();
  const ns = namespaceOf(p);
  const { spec } = p;
  if (!getPreset(spec.type)) {
    const known = listPresets()
      .map((x) => x.type)
      .sort()
      .join(', ');
    findings.invalid(`unsupported provider type "${spec.type}" (supported: ${known})`, 'spec.type');
  }

  const wanted: Array<{ credential: string; name: string; key: string; path: string }> = [];
  const c = spec.credentials;
  if (c?.apiKeySecretRef)
    wanted.push({
      credential: 'apiKey',
      name: c.apiKeySecretRef.name,
      key: c.apiKeySecretRef.key ?? 'apiKey',
      path: 'spec.credentials.apiKeySecretRef',
    });
  c?.secretKeyRefs?.forEach((r, i) => {
    wanted.push({ ...r, path: `spec.credentials.secretKeyRefs[${i}]` });
  });
  const credentials: Record<string, SecretSource> = {};
  for (const w of wanted) {
    const value = secrets.value(ns, w.name, w.key, findings, w.path);
    if (value === undefined) continue;
    const file = secretFileName('provider', ns, p.metadata.name, w.credential);
    credentials[w.credential] = { file };
    if (value !== null) secretOut[file] = value;
  }

  const input: ProviderInput = compact({
    name: dataplaneName(ns, p.metadata.name),
    type: spec.type,
    baseUrl: spec.baseUrl,
    credentials: Object.keys(credentials).length ? credentials : undefined,
    apiVersion: spec.apiVersion,
    region: spec.region,
    headers: spec.headers,
    forwardBetas: spec.forwardBetas,
    rateLimitHeaders: spec.rateLimitHeaders,
    models: spec.models?.map((m) => compact({ ...m })),
    timeouts: renderTimeouts(spec.timeouts),
    maxConcurrency: spec.maxConcurrency,
    maxQueue: spec.maxQueue,
    connections: spec.connections,
    circuitBreaker: spec.circuitBreaker
      ? compact({
          consecutiveFailures: spec.circuitBreaker.consecutiveFailures,
          baseEjectionMs: ms(spec.circuitBreaker.baseEjection),
          maxEjectionMs: ms(spec.circuitBreaker.maxEjection),
        })
      : undefined,
    healthCheck: spec.healthCheck
      ? compact({
          path: spec.healthCheck.path,
          intervalMs: ms(spec.healthCheck.interval),
          timeoutMs: ms(spec.healthCheck.timeout),
          unhealthyThreshold: spec.healthCheck.unhealthyThreshold,
          healthyThreshold: spec.healthCheck.healthyThreshold,
        })
      : undefined,
    endpoints: renderEndpoints(spec, ns),
    suspended: spec.suspended || undefined,
    mock: spec.mock
      ? compact({
          latencyMs: ms(spec.mock.latency),
          chunkDelayMs: ms(spec.mock.chunkDelay),
          outputTokens: spec.mock.outputTokens,
          chunkTokens: spec.mock.chunkTokens,
          text: spec.mock.text,
        })
      : undefined,
  });
  return { findings, input };
}

/**
 * spec.service -> endpoints.kubernetes: always the AIProvider's own namespace (a tenant cannot point
 * Sluice at another namespace's pods); each dataplane replica watches the Service's EndpointSlices.
 */
function renderEndpoints(spec: AIProvider['spec'], ns: string): ProviderInput['endpoints'] {
  const svc = spec.service;
  if (!svc) return undefined;
  const pick = spec.endpointPicking;
  const lm = pick?.loadMetrics;
  return compact({
    kubernetes: compact({
      namespace: ns,
      service: svc.name,
      port: svc.portName ?? svc.port,
      scheme: svc.scheme,
    }),
    basePath: svc.path,
    picker: pick?.picker,
    loadMetrics: lm
      ? compact({ path: lm.path, intervalMs: ms(lm.interval), timeoutMs: ms(lm.timeout) })
      : undefined,
    prefixAffinity: pick?.prefixAffinity ? compact({ ...pick.prefixAffinity }) : undefined,
  });
}
