// What `helm template` produces: the objects, names, wiring between operator and dataplane, the
// restricted security settings, graceful shutdown, RBAC scoping, toggles and ArgoCD friendliness.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  argValue,
  CHART_DIR,
  container,
  find,
  get,
  getArray,
  type K8sObject,
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
