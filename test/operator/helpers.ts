// Shared by the operator suites: a running Operator against the envtest API server, object builders
// and polling helpers.
import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { isNotFound, type KubeRest, resourcePath } from '../../kube/kube_rest.ts';
import { API_VERSION, type Resource } from '../../operator/src/api/common.ts';
import { kindByName } from '../../operator/src/api/crd.ts';
import { Operator, type OperatorOptions } from '../../operator/src/controller/operator.ts';

export const OUT_NS = 'sluice-system';

export function startOperator(kc: KubeConfig, extra: Partial<OperatorOptions> = {}): Promise<Operator> {
  const op = new Operator({
    kc,
    log: pino({ level: process.env.SLUICE_TEST_LOG ?? 'silent' }),
    outputNamespace: OUT_NS,
    secretsDir: '/etc/sluice/secrets',
    debounceMs: 20,
    programmedResyncMs: 500,
    // Secrets are polled by name (secret_reads.ts): fast here, so rotations show up within a test
    secretRefreshMs: 250,
    ...extra,
  });
  return op.start().then(() => op);
}

/** Poll until `fn` returns a value that is not undefined/false, or fail after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function cr(kind: string, name: string, ns: string, spec: unknown): Resource<unknown> {
  return { apiVersion: API_VERSION, kind, metadata: { name, namespace: ns }, spec };
}

export function pathOf(kind: string, ns: string, name?: string): string {
  const def = kindByName(kind);
  if (!def) throw new Error(kind);
  return resourcePath(API_VERSION, def.plural, ns, name);
}

export async function apply(rest: KubeRest, obj: Resource<unknown>): Promise<void> {
  const ns = obj.metadata.namespace ?? 'default';
  await rest.request('PATCH', `${pathOf(obj.kind, ns, obj.metadata.name)}`, {
    body: obj,
    contentType: 'application/apply-patch+yaml',
    query: { fieldManager: 'test', force: 'true' },
  });
}

export async function applySecret(
  rest: KubeRest,
  ns: string,
  name: string,
  data: Record<string, string>,
): Promise<void> {
  await rest.request('PATCH', `/api/v1/namespaces/${ns}/secrets/${name}`, {
    body: { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, stringData: data },
    contentType: 'application/apply-patch+yaml',
    query: { fieldManager: 'test', force: 'true' },
  });
}

export async function remove(rest: KubeRest, path: string): Promise<void> {
  await rest.request('DELETE', path).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
}

export async function get<T = Resource<unknown>>(rest: KubeRest, path: string): Promise<T | undefined> {
  try {
    return await rest.request<T>('GET', path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export function condition(obj: Resource<unknown> | undefined, type: string) {
  return obj?.status?.conditions?.find((c) => c.type === type);
}

export interface ConfigMap {
  metadata: {
    resourceVersion: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  data?: Record<string, string>;
}
export const cmPath = `/api/v1/namespaces/${OUT_NS}/configmaps/sluice-config`;
export const secretPath = `/api/v1/namespaces/${OUT_NS}/secrets/sluice-secrets`;
