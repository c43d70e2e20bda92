// The chart's dataplane.tracing values: rendered into the operator's base config as server.tracing
// (which the dataplane schema accepts), export headers from a Secret as environment variables the
// config references, and nothing at all while tracing is off.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateConfig } from '../../dataplane/src/config/load.ts';
import { missingSecrets } from '../../dataplane/src/config/secret_refs.ts';
import { get, getArray, type K8sObject, one, render } from './helm.ts';

function baseConfig(objs: K8sObject[]): { server: Record<string, unknown> } {
  const data = get(one(objs, 'ConfigMap', 'sluice-dataplane-base'), 'data') as Record<string, string>;
  return parse(data['base.yaml'] ?? '') as { server: Record<string, unknown> };
}

function dataplaneEnv(objs: K8sObject[]): Array<Record<string, unknown>> {
  const dp = one(objs, 'Deployment', 'sluice-dataplane');
  const container = getArray(dp, 'spec.template.spec.containers')[0];
  return getArray(container, 'env') as Array<Record<string, unknown>>;
}

describe('dataplane.tracing values', () => {
  it('are off by default: no server.tracing, no header variables', async () => {
    const objs = await render({});
    expect(baseConfig(objs).server.tracing).toBeUndefined();
    expect(dataplaneEnv(objs).some((e) => String(e.name).startsWith('SLUICE_OTLP_HEADER_'))).toBe(false);
  });

  it('render server.tracing with headers from a Secret that the dataplane reads and validates', async () => {
    const objs = await render({
      dataplane: {
        tracing: {
          enabled: true,
          endpoint: 'http://otel-collector.observability:4318/v1/traces',
          samplingRatio: 0.1,
          clientTraceContext: 'parent',
          resourceAttributes: { 'deployment.environment.name': 'prod' },
          headersSecret: 'otlp-auth',
          headers: ['authorization', 'x-tenant'],
        },
      },
    });
    const base = baseConfig(objs);
    expect(base.server.tracing).toEqual({
      enabled: true,
      endpoint: 'http://otel-collector.observability:4318/v1/traces',
      samplingRatio: 0.1,
      resourceAttributes: { 'deployment.environment.name': 'prod' },
      clientTraceContext: 'parent',
      headers: {
        authorization: { env: 'SLUICE_OTLP_HEADER_0' },
        'x-tenant': { env: 'SLUICE_OTLP_HEADER_1' },
      },
    });
    const env = dataplaneEnv(objs).filter((e) => String(e.name).startsWith('SLUICE_OTLP_HEADER_'));
    expect(env).toEqual([
      {
        name: 'SLUICE_OTLP_HEADER_0',
        valueFrom: { secretKeyRef: { name: 'otlp-auth', key: 'authorization' } },
      },
      { name: 'SLUICE_OTLP_HEADER_1', valueFrom: { secretKeyRef: { name: 'otlp-auth', key: 'x-tenant' } } },
    ]);
    // what the operator renders from it is a config the dataplane loads, once the variables are set
    const cfg = validateConfig({
      ...base,
      server: { ...base.server, secretsDir: '/etc/sluice/secrets' },
      providers: [{ name: 'mock', type: 'mock', models: [{ name: 'm' }] }],
      routes: [{ name: 'r', backends: [{ provider: 'mock' }] }],
      access: 'open',
    });
    expect(cfg.server.tracing?.samplingRatio).toBe(0.1);
    expect(cfg.server.tracing?.clientTraceContext).toBe('parent');
    expect(missingSecrets(cfg, '/etc/sluice/secrets', {}).map((i) => i.path)).toEqual([
      'server.tracing.headers.authorization',
      'server.tracing.headers.x-tenant',
    ]);
    expect(missingSecrets(cfg, '/', { SLUICE_OTLP_HEADER_0: 'Bearer t', SLUICE_OTLP_HEADER_1: 'a' })).toEqual(
      [],
    );
  });

  it('rejects a sampling ratio above 1 and an unknown key', async () => {
    await expect(render({ dataplane: { tracing: { samplingRatio: 2 } } })).rejects.toThrow(/samplingRatio/);
    await expect(render({ dataplane: { tracing: { sampling: 0.5 } } })).rejects.toThrow(/sampling/);
    await expect(render({ dataplane: { tracing: { clientTraceContext: 'trust' } } })).rejects.toThrow(
      /clientTraceContext/,
    );
  });
});
