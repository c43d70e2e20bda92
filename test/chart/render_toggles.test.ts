// What `helm template` produces with values other than the defaults: toggles (per-namespace RBAC,
// admin port, Ingress, NetworkPolicies, Redis wiring, monitoring), the operator's base config, and the
// names the chart derives (63-character limits, fullnameOverride). The defaults are render.test.ts's.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateConfig } from '../../dataplane/src/config/load.ts';
import {
  ALL_TOGGLES_ON,
  argValue,
  container,
  find,
  get,
  getArray,
  getString,
  MONITORING_API,
  one,
  render,
} from './helm.ts';

describe('toggles', () => {
  it('uses a Role per watched namespace instead of a ClusterRole when namespaces are listed', async () => {
    const objs = await render({ operator: { watchNamespaces: ['team-a', 'team-b'] } });
    // only the roles for people are cluster-wide (they grant nothing until bound)
    expect(find(objs, 'ClusterRole').map((o) => o.metadata.name)).toEqual([
      'sluice-admin',
      'sluice-tenant-edit',
      'sluice-view',
    ]);
    expect(find(objs, 'ClusterRoleBinding')).toEqual([]);
    const watchRoles = find(objs, 'Role', 'sluice-operator-watch');
    expect(watchRoles.map((r) => r.metadata.namespace)).toEqual(['team-a', 'team-b']);
    for (const r of watchRoles) {
      const resources = getArray(r, 'rules').flatMap((x) => getArray(x, 'resources'));
      expect(resources).toEqual(
        expect.arrayContaining(['aiproviders', 'airoutes', 'ainamespaces', 'aipolicies']),
      );
      expect(resources).not.toContain('secrets');
    }
    // Secrets: `get` only, through their own Role in each watched namespace
    const secretRoles = find(objs, 'Role', 'sluice-operator-secrets');
    expect(secretRoles.map((r) => r.metadata.namespace)).toEqual(['team-a', 'team-b']);
    const bindings = find(objs, 'RoleBinding', 'sluice-operator-watch');
    expect(bindings.map((b) => get(b, 'subjects.0'))).toEqual([
      { kind: 'ServiceAccount', name: 'sluice-operator', namespace: 'sluice-system' },
      { kind: 'ServiceAccount', name: 'sluice-operator', namespace: 'sluice-system' },
    ]);
    const args = getArray(container(one(objs, 'Deployment', 'sluice-operator'), 'operator'), 'args');
    expect(argValue(args, '--namespaces')).toBe('team-a,team-b');
  });

  it('serves metrics and detailed readiness on an admin port that only a ClusterIP Service exposes', async () => {
    const objs = await render({
      dataplane: { service: { type: 'LoadBalancer' } },
      ingress: { enabled: true },
    });
    const c = container(one(objs, 'Deployment', 'sluice-dataplane'), 'dataplane');
    expect(getArray(c, 'ports')).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'admin', containerPort: 9464, protocol: 'TCP' },
    ]);
    const env = Object.fromEntries(getArray(c, 'env').map((e) => [get(e, 'name'), get(e, 'value')]));
    expect(env).toMatchObject({ ADMIN_HOST: '0.0.0.0', ADMIN_PORT: '9464' });
    // the API Service (here a LoadBalancer) carries the API port only
    const api = one(objs, 'Service', 'sluice-dataplane');
    expect(getArray(api, 'spec.ports').map((p) => get(p, 'name'))).toEqual(['http']);
    const admin = one(objs, 'Service', 'sluice-dataplane-admin');
    expect(get(admin, 'spec.type')).toBe('ClusterIP');
    expect(get(admin, 'spec.ports')).toEqual([
      { name: 'admin', port: 9464, targetPort: 'admin', protocol: 'TCP', appProtocol: 'http' },
    ]);
    // the Ingress reaches the API Service's http port, nothing else
    const ing = one(objs, 'Ingress', 'sluice-dataplane');
    const backends = getArray(ing, 'spec.rules').flatMap((r) =>
      getArray(r, 'http.paths').map((p) => get(p, 'backend.service')),
    );
    expect(backends.length).toBeGreaterThan(0);
    for (const b of backends) expect(b).toEqual({ name: 'sluice-dataplane', port: { name: 'http' } });
  });

  it('with every toggle on renders Ingress, NetworkPolicies, Redis wiring, in-flight HPA metric and monitoring', async () => {
    const objs = await render(ALL_TOGGLES_ON, { apiVersions: [MONITORING_API] });
    const ing = one(objs, 'Ingress', 'sluice-dataplane');
    expect(get(ing, 'spec.ingressClassName')).toBe('nginx');
    expect(ing.metadata.annotations).toMatchObject({
      'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
      'nginx.ingress.kubernetes.io/proxy-request-buffering': 'off',
      'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
      'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600',
      'cert-manager.io/cluster-issuer': 'letsencrypt',
    });
    expect(get(ing, 'spec.tls')).toEqual([{ hosts: ['llm.example.com'], secretName: 'llm-tls' }]);
    expect(get(ing, 'spec.rules.0.http.paths.0.backend.service')).toEqual({
      name: 'sluice-dataplane',
      port: { name: 'http' },
    });

    expect(find(objs, 'NetworkPolicy').map((n) => n.metadata.name)).toEqual([
      'sluice-dataplane',
      'sluice-operator',
    ]);
    const dpNp = one(objs, 'NetworkPolicy', 'sluice-dataplane');
    expect(get(dpNp, 'spec.policyTypes')).toEqual(['Ingress', 'Egress']);
    // the API port and the admin port, each with its own peers
    expect(getArray(dpNp, 'spec.ingress').map((r) => get(r, 'ports.0.port'))).toEqual(['http', 'admin']);

    const hpa = one(objs, 'HorizontalPodAutoscaler');
    expect(get(hpa, 'spec.metrics.1')).toEqual({
      type: 'Pods',
      pods: {
        metric: { name: 'sluice_inflight_requests' },
        target: { type: 'AverageValue', averageValue: '40' },
      },
    });

    const redisSecret = one(objs, 'Secret', 'sluice-redis');
    expect(Buffer.from(getString(redisSecret, 'data.password'), 'base64').toString()).toBe('s3cret');
    const dp = one(objs, 'Deployment', 'sluice-dataplane');
    const secretsVol = getArray(dp, 'spec.template.spec.volumes').find((v) => get(v, 'name') === 'secrets');
    expect(get(secretsVol, 'projected.sources')).toEqual([
      { secret: { name: 'sluice-dataplane-secrets' } },
      { secret: { name: 'sluice-redis', items: [{ key: 'password', path: 'sluice-redis-password' }] } },
    ]);

    expect(find(objs, 'ServiceMonitor').map((s) => s.metadata.name)).toEqual([
      'sluice-dataplane',
      'sluice-operator',
    ]);
    expect(one(objs, 'ServiceMonitor', 'sluice-dataplane').metadata.labels?.release).toBe(
      'kube-prometheus-stack',
    );
    // Prometheus scrapes the admin Service's admin port, never the API Service
    const sm = one(objs, 'ServiceMonitor', 'sluice-dataplane');
    expect(get(sm, 'spec.endpoints.0.port')).toBe('admin');
    expect(get(sm, 'spec.selector.matchLabels')).toMatchObject({ 'sluice.dev/port': 'admin' });
    expect(one(objs, 'Service', 'sluice-dataplane').metadata.labels?.['sluice.dev/port']).toBeUndefined();
    expect(find(objs, 'PrometheusRule')).toHaveLength(1);
    const dash = one(objs, 'ConfigMap', 'sluice-dashboard');
    expect(dash.metadata.labels?.grafana_dashboard).toBe('1');
    const data = get(dash, 'data') as Record<string, string>;
    expect(JSON.parse(data['sluice.json'] ?? '')).toMatchObject({ uid: 'sluice-gateway' });
  });

  it('renders no ServiceMonitor or PrometheusRule when the cluster lacks monitoring.coreos.com/v1', async () => {
    const objs = await render(ALL_TOGGLES_ON);
    expect(find(objs, 'ServiceMonitor')).toEqual([]);
    expect(find(objs, 'PrometheusRule')).toEqual([]);
    // The dashboard is a plain ConfigMap and needs no CRD.
    expect(find(objs, 'ConfigMap', 'sluice-dashboard')).toHaveLength(1);
  });

  it('renders no monitoring objects when the API exists but the toggles are off', async () => {
    const objs = await render({}, { apiVersions: [MONITORING_API] });
    expect(find(objs, 'ServiceMonitor')).toEqual([]);
    expect(find(objs, 'PrometheusRule')).toEqual([]);
  });

  it('adds no ingress-nginx annotations for other ingress classes', async () => {
    const objs = await render({ ingress: { enabled: true, className: 'traefik' } });
    const annotations = one(objs, 'Ingress').metadata.annotations ?? {};
    expect(Object.keys(annotations).filter((k) => k.startsWith('nginx.'))).toEqual([]);
  });

  it('mounts an existing Redis password Secret without creating one', async () => {
    const objs = await render({
      redis: {
        url: 'rediss://redis:6380',
        existingSecret: 'my-redis',
        existingSecretPasswordKey: 'redis-password',
      },
    });
    expect(find(objs, 'Secret')).toEqual([]);
    const vol = getArray(one(objs, 'Deployment', 'sluice-dataplane'), 'spec.template.spec.volumes').find(
      (v) => get(v, 'name') === 'secrets',
    );
    expect(get(vol, 'projected.sources.1')).toEqual({
      secret: { name: 'my-redis', items: [{ key: 'redis-password', path: 'sluice-redis-password' }] },
    });
  });

  it('gives the operator a base config (server, Redis store) that the dataplane schema accepts', async () => {
    const objs = await render({
      redis: { url: 'redis://redis:6379', existingSecret: 'r' },
      dataplane: { drainTimeoutSeconds: 45 },
    });
    const base = parse(
      (get(one(objs, 'ConfigMap', 'sluice-dataplane-base'), 'data') as Record<string, string>)['base.yaml'] ??
        '',
    );
    expect(base).toEqual({
      // fail closed, and providers kept away from the cluster's inside and the gateway itself
      access: 'tenants',
      egress: {
        deny: [
          '127.0.0.0/8',
          '::1/128',
          '10.0.0.0/8',
          '172.16.0.0/12',
          '192.168.0.0/16',
          '100.64.0.0/10',
          'fc00::/7',
          'localhost',
          '*.svc',
          '*.svc.cluster.local',
          'sluice-dataplane',
          'sluice-dataplane.sluice-system',
        ],
      },
      // the body limit and the memory budget from values (bodyLimitMiB 10, memoryBudgetMiB 160), in bytes
      server: {
        port: 8080,
        drainTimeoutMs: 45_000,
        bodyLimitBytes: 10 * 1024 * 1024,
        memoryBudgetBytes: 160 * 1024 * 1024,
      },
      store: {
        type: 'redis',
        redis: {
          url: 'redis://redis:6379',
          password: { file: 'sluice-redis-password' },
          keyPrefix: 'sluice:',
          commandTimeoutMs: 250,
          failMode: 'open',
          replicas: 2,
        },
      },
    });
    // What the operator renders: the base plus the resources' providers and routes.
    const cfg = validateConfig({
      ...base,
      server: { ...base.server, secretsDir: '/etc/sluice/secrets' },
      providers: [{ name: 'mock', type: 'mock', models: [{ name: 'm' }] }],
      routes: [{ name: 'r', match: { models: ['m'] }, backends: [{ provider: 'mock' }] }],
    });
    expect(cfg.store.redis?.url).toBe('redis://redis:6379');
    expect(cfg.server.drainTimeoutMs).toBe(45_000);
    // The operator restarts (and re-reads it) when the base changes; the dataplane never does.
    const op = one(objs, 'Deployment', 'sluice-operator');
    expect(get(op, 'spec.template.metadata.annotations.checksum/base-config')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('sets a fixed replica count and no HPA when autoscaling is off', async () => {
    const objs = await render({ dataplane: { autoscaling: { enabled: false }, replicas: 3 } });
    expect(find(objs, 'HorizontalPodAutoscaler')).toEqual([]);
    expect(get(one(objs, 'Deployment', 'sluice-dataplane'), 'spec.replicas')).toBe(3);
  });

  it('can leave the CRDs out, or stop keeping them on uninstall', async () => {
    expect(find(await render({ crds: { enabled: false } }), 'CustomResourceDefinition')).toEqual([]);
    const crds = find(await render({ crds: { keep: false } }), 'CustomResourceDefinition');
    expect(crds).toHaveLength(4);
    for (const c of crds) expect(c.metadata.annotations?.['helm.sh/resource-policy']).toBeUndefined();
  });
});

describe('names', () => {
  it('keeps every name and label value within 63 characters and keeps component suffixes', async () => {
    // 53 characters: the longest release name Helm accepts.
    const release = 'a-very-long-release-name-that-goes-on-and-on-for-many';
    expect(release).toHaveLength(53);
    const objs = await render(ALL_TOGGLES_ON, { release, apiVersions: [MONITORING_API] });
    for (const o of objs) {
      if (o.kind === 'CustomResourceDefinition') continue;
      expect(o.metadata.name.length, o.metadata.name).toBeLessThanOrEqual(63);
      expect(o.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      for (const v of Object.values(o.metadata.labels ?? {}))
        expect(String(v).length).toBeLessThanOrEqual(63);
    }
    const deployments = find(objs, 'Deployment').map((d) => d.metadata.name);
    expect(deployments.some((n) => n.endsWith('-operator'))).toBe(true);
    expect(deployments.some((n) => n.endsWith('-dataplane'))).toBe(true);
    expect(new Set(deployments).size).toBe(2);
  });

  it('honours fullnameOverride', async () => {
    const objs = await render({ fullnameOverride: 'gw' });
    expect(
      find(objs, 'Deployment')
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual(['gw-dataplane', 'gw-operator']);
  });
});
