// What `helm template` produces: the objects, names, wiring between operator and dataplane, the
// restricted security settings, graceful shutdown, RBAC scoping, toggles and ArgoCD friendliness.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateConfig } from '../../dataplane/src/config/load.ts';
import {
  ALL_TOGGLES_ON,
  CHART_DIR,
  find,
  get,
  getArray,
  getString,
  type K8sObject,
  MONITORING_API,
  one,
  render,
  renderText,
} from './helm.ts';

const RESTRICTED_CONTAINER = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

function container(deploy: K8sObject, name: string): Record<string, unknown> {
  const c = getArray(deploy, 'spec.template.spec.containers').find((x) => get(x, 'name') === name);
  if (!c || typeof c !== 'object') throw new Error(`no container ${name}`);
  return c as Record<string, unknown>;
}

function argValue(args: unknown[], flag: string): string | undefined {
  const hit = args.find((a) => typeof a === 'string' && a.startsWith(`${flag}=`));
  return typeof hit === 'string' ? hit.slice(flag.length + 1) : undefined;
}

describe('default values', () => {
  let objs: K8sObject[];
  beforeAll(async () => {
    objs = await render();
  });

  it('renders exactly the default set of objects', () => {
    const names = objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(names).toEqual(
      [
        'ClusterRole/sluice-admin',
        'ClusterRole/sluice-operator',
        'ClusterRole/sluice-tenant-edit',
        'ClusterRole/sluice-view',
        'ClusterRoleBinding/sluice-operator',
        'ConfigMap/sluice-dataplane-base',
        'CustomResourceDefinition/ainamespaces.gateway.sluice.dev',
        'CustomResourceDefinition/aipolicies.gateway.sluice.dev',
        'CustomResourceDefinition/aiproviders.gateway.sluice.dev',
        'CustomResourceDefinition/airoutes.gateway.sluice.dev',
        'Deployment/sluice-dataplane',
        'Deployment/sluice-operator',
        'HorizontalPodAutoscaler/sluice-dataplane',
        'PodDisruptionBudget/sluice-dataplane',
        'PodDisruptionBudget/sluice-operator',
        'Role/sluice-dataplane',
        'Role/sluice-operator',
        'Role/sluice-operator-secrets',
        'RoleBinding/sluice-dataplane',
        'RoleBinding/sluice-operator',
        'RoleBinding/sluice-operator-secrets',
        'Service/sluice-dataplane',
        'Service/sluice-dataplane-admin',
        'Service/sluice-operator-metrics',
        'ServiceAccount/sluice-dataplane',
        'ServiceAccount/sluice-operator',
      ].sort(),
    );
    for (const o of objs) {
      if (o.kind === 'CustomResourceDefinition' || o.kind.startsWith('Cluster')) continue;
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('sluice-system');
    }
  });

  it('runs 2 operator replicas with leader election, wired to the ConfigMap and Secret the dataplane mounts', () => {
    const op = one(objs, 'Deployment', 'sluice-operator');
    expect(get(op, 'spec.replicas')).toBe(2);
    const args = getArray(container(op, 'operator'), 'args');
    expect(args[0]).toBe('operator');
    expect(args).toContain('--leader-elect');
    expect(argValue(args, '--output-namespace')).toBe('sluice-system');
    expect(argValue(args, '--metrics-port')).toBe('8081');
    expect(argValue(args, '--namespaces')).toBeUndefined();

    const dp = one(objs, 'Deployment', 'sluice-dataplane');
    const volumes = getArray(dp, 'spec.template.spec.volumes');
    const cmName = get(
      volumes.find((v) => get(v, 'name') === 'config'),
      'configMap.name',
    );
    const secretName = get(
      volumes.find((v) => get(v, 'name') === 'secrets'),
      'projected.sources.0.secret.name',
    );
    expect(cmName).toBe('sluice-dataplane-config');
    expect(secretName).toBe('sluice-dataplane-secrets');
    expect(argValue(args, '--config-map')).toBe(cmName);
    expect(argValue(args, '--secret')).toBe(secretName);

    const mounts = getArray(container(dp, 'dataplane'), 'volumeMounts');
    const configMount = mounts.find((m) => get(m, 'name') === 'config');
    expect(get(configMount, 'mountPath')).toBe('/etc/sluice/config');
    // subPath mounts never see kubelet's ..data swap, which would break hot reload.
    for (const m of mounts) expect(get(m, 'subPath')).toBeUndefined();
    expect(getArray(container(dp, 'dataplane'), 'args')).toEqual([
      'serve',
      '--config=/etc/sluice/config/config.yaml',
      '--report-lease',
    ]);
  });

  it('does not restart the dataplane on config changes (no checksum annotation; hot reload instead)', () => {
    const dp = one(objs, 'Deployment', 'sluice-dataplane');
    const annotations = get(dp, 'spec.template.metadata.annotations') ?? {};
    expect(Object.keys(annotations as object).filter((k) => k.startsWith('checksum/'))).toEqual([]);
  });

  it('leaves dataplane replicas to the HPA and scales on CPU', () => {
    const dp = one(objs, 'Deployment', 'sluice-dataplane');
    expect(get(dp, 'spec.replicas')).toBeUndefined();
    const hpa = one(objs, 'HorizontalPodAutoscaler', 'sluice-dataplane');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(get(hpa, 'spec.scaleTargetRef')).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'sluice-dataplane',
    });
    expect(get(hpa, 'spec.minReplicas')).toBe(2);
    expect(get(hpa, 'spec.metrics')).toEqual([
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
      },
    ]);
    expect(get(hpa, 'spec.behavior.scaleDown.stabilizationWindowSeconds')).toBe(300);
  });

  it('gives both components the restricted security context, probes and resources', () => {
    for (const [name, cname, port] of [
      ['sluice-operator', 'operator', 'metrics'],
      // the dataplane's probes use its admin port (the API port answers only a bare status)
      ['sluice-dataplane', 'dataplane', 'admin'],
    ] as const) {
      const d = one(objs, 'Deployment', name);
      const c = container(d, cname);
      expect(get(c, 'securityContext'), name).toEqual(RESTRICTED_CONTAINER);
      expect(get(d, 'spec.template.spec.securityContext.runAsNonRoot')).toBe(true);
      expect(get(d, 'spec.template.spec.securityContext.seccompProfile.type')).toBe('RuntimeDefault');
      expect(get(c, 'livenessProbe.httpGet')).toEqual({ path: '/healthz', port });
      expect(get(c, 'readinessProbe.httpGet')).toEqual({ path: '/readyz', port });
      expect(get(c, 'resources.requests.cpu')).toBeTruthy();
      expect(get(c, 'resources.limits.memory')).toBeTruthy();
      // A read-only root needs somewhere writable for Node's scratch files.
      expect(getArray(c, 'volumeMounts').some((m) => get(m, 'mountPath') === '/tmp')).toBe(true);
    }
  });

  it('shuts the dataplane down gracefully: preStop sleep, then a drain shorter than the grace period', () => {
    const dp = one(objs, 'Deployment', 'sluice-dataplane');
    const c = container(dp, 'dataplane');
    const sleep = get(c, 'lifecycle.preStop.sleep.seconds');
    const grace = get(dp, 'spec.template.spec.terminationGracePeriodSeconds');
    expect(sleep).toBe(10);
    expect(grace).toBe(90);
    expect(Number(grace)).toBeGreaterThan(Number(sleep) + 60);
    const env = getArray(c, 'env');
    // the chart ships the image's heap settings (the ones npm run bench measures)
    const shipped = /^ENV NODE_OPTIONS="([^"]+)"/m.exec(
      readFileSync(join(CHART_DIR, '../../Dockerfile.dataplane'), 'utf8'),
    )?.[1];
    expect(shipped).toBe('--max-semi-space-size=16 --max-old-space-size=256 --v8-pool-size=2');
    expect(env).toContainEqual({ name: 'NODE_OPTIONS', value: shipped });
    expect(env).toContainEqual({ name: 'MALLOC_ARENA_MAX', value: '2' });
    expect(env).toContainEqual({ name: 'HOST', value: '0.0.0.0' });
    expect(env).toContainEqual({ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
  });

  it('spreads dataplane pods across zones and nodes with the Deployment selector', () => {
    const dp = one(objs, 'Deployment', 'sluice-dataplane');
    const spread = getArray(dp, 'spec.template.spec.topologySpreadConstraints');
    expect(spread.map((s) => get(s, 'topologyKey'))).toEqual([
      'topology.kubernetes.io/zone',
      'kubernetes.io/hostname',
    ]);
    for (const s of spread)
      expect(get(s, 'labelSelector.matchLabels')).toEqual(get(dp, 'spec.selector.matchLabels'));
    const pdb = one(objs, 'PodDisruptionBudget', 'sluice-dataplane');
    expect(get(pdb, 'spec.selector.matchLabels')).toEqual(get(dp, 'spec.selector.matchLabels'));
    expect(get(pdb, 'spec.maxUnavailable')).toBe(1);
    const svc = one(objs, 'Service', 'sluice-dataplane');
    expect(get(svc, 'spec.selector')).toEqual(get(dp, 'spec.selector.matchLabels'));
  });

  it('watches all namespaces through a ClusterRole, and gets Secrets by name only in the secret namespaces', () => {
    const cr = one(objs, 'ClusterRole', 'sluice-operator');
    const rules = getArray(cr, 'rules');
    // no cluster-wide Secret access at all: `get` (no list/watch) in the release namespace only
    expect(rules.some((r) => getArray(r, 'resources').includes('secrets'))).toBe(false);
    const secretRoles = find(objs, 'Role', 'sluice-operator-secrets');
    expect(secretRoles.map((r) => [r.metadata.namespace, get(r, 'rules')])).toEqual([
      ['sluice-system', [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }]],
    ]);
    const verbs = rules.flatMap((r) => getArray(r, 'verbs'));
    expect(verbs).not.toContain('delete');
    expect(verbs).not.toContain('*');
    // Writes to ConfigMaps/Secrets happen only through the namespaced Role, limited by name.
    expect(rules.some((r) => getArray(r, 'resources').includes('configmaps'))).toBe(false);
    const role = one(objs, 'Role', 'sluice-operator');
    const named = getArray(role, 'rules').filter((r) => get(r, 'resourceNames') !== undefined);
    expect(named.map((r) => [get(r, 'resources'), get(r, 'resourceNames'), get(r, 'verbs')])).toEqual([
      [['configmaps'], ['sluice-dataplane-config'], ['get', 'patch']],
      [['secrets'], ['sluice-dataplane-secrets'], ['get', 'patch']],
      [['deployments'], ['sluice-operator'], ['get']],
      // renews only its own leader-election Lease
      [['leases'], ['sluice-operator'], ['update']],
    ]);
    const dpRole = one(objs, 'Role', 'sluice-dataplane');
    expect(get(dpRole, 'rules')).toEqual([
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        verbs: ['get', 'create', 'update', 'delete'],
      },
    ]);
  });

  it('annotates sync waves so ArgoCD applies CRDs, then RBAC, then the operator, then the dataplane', () => {
    const wave = (o: K8sObject) => Number(o.metadata.annotations?.['argocd.argoproj.io/sync-wave']);
    for (const o of objs) expect(Number.isInteger(wave(o)), `${o.kind}/${o.metadata.name}`).toBe(true);
    const maxOf = (kinds: string[]) => Math.max(...objs.filter((o) => kinds.includes(o.kind)).map(wave));
    const minOf = (kinds: string[]) => Math.min(...objs.filter((o) => kinds.includes(o.kind)).map(wave));
    const rbac = ['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'];
    expect(maxOf(['CustomResourceDefinition'])).toBeLessThan(minOf(rbac));
    expect(maxOf(rbac)).toBeLessThan(wave(one(objs, 'Deployment', 'sluice-operator')));
    expect(wave(one(objs, 'Deployment', 'sluice-operator'))).toBeLessThan(
      wave(one(objs, 'Deployment', 'sluice-dataplane')),
    );
  });

  it('renders the same bytes every time and uses no lookup or random functions (no ArgoCD diff flapping)', async () => {
    const a = await renderText();
    const b = await renderText();
    expect(a).toBe(b);
    const templates = [
      ...readdirSync(join(CHART_DIR, 'templates'), { recursive: true, encoding: 'utf8' }).map((f) =>
        join(CHART_DIR, 'templates', f),
      ),
      join(CHART_DIR, 'charts/crds/templates/crds.yaml'),
    ].filter((f) => /\.(ya?ml|tpl|txt)$/.test(f));
    expect(templates.length).toBeGreaterThan(10);
    for (const f of templates) {
      const text = readFileSync(f, 'utf8');
      expect(text, f).not.toMatch(
        /\b(lookup|randAlphaNum|randAlpha|randNumeric|randAscii|uuidv4|now|genCA|genPrivateKey)\b/,
      );
    }
  });
});

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
