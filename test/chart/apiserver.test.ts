// The chart against a real kube-apiserver + etcd (test/envtest): rendered manifests pass server-side
// dry-run apply (schemas, Pod Security "restricted"), then a real `helm install`, `helm upgrade` and
// `helm uninstall` with the objects and the RBAC they grant checked through the API server.
// No pods run (there are no nodes); every API object must exist with the right fields.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane } from '../envtest/controlplane.ts';
import {
  ALL_TOGGLES_ON,
  CHART_DIR,
  get,
  getArray,
  HELM,
  type K8sObject,
  MONITORING_API,
  REPO_ROOT,
  renderText,
  requireTool,
  run,
  valuesFile,
} from './helm.ts';

const NS = 'sluice-system';
const FIXTURES = join(import.meta.dirname, 'fixtures');
const CRD_NAMES = ['ainamespaces', 'aipolicies', 'aiproviders', 'airoutes'].map(
  (p) => `${p}.gateway.sluice.dev`,
);

let cp: ControlPlane;

async function kubectl(args: string[], input?: string): Promise<string> {
  const r = await cp.kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

async function getJson(args: string[]): Promise<K8sObject[]> {
  const list = JSON.parse(await kubectl(['get', ...args, '-o', 'json'])) as {
    items?: K8sObject[];
  } & K8sObject;
  return list.items ?? [list];
}

/** Every object of the release in the namespace and cluster-wide, as "Kind/name". */
async function releaseObjects(): Promise<string[]> {
  const selector = 'app.kubernetes.io/instance=sluice';
  const namespaced = await getJson([
    'deploy,svc,sa,role,rolebinding,hpa,pdb,ingress,networkpolicy,configmap,secret,servicemonitor,prometheusrule',
    '-A',
    '-l',
    selector,
  ]);
  const cluster = await getJson(['clusterrole,clusterrolebinding', '-l', selector]);
  return [...namespaced, ...cluster]
    .map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`)
    .sort();
}

function helm(args: string[]) {
  return run(requireTool(HELM), [...args, '--kubeconfig', cp.kubeconfigPath], { timeoutMs: 120_000 });
}

/** `kubectl auth can-i` as a service account of the release; "kind/status" asks about the subresource. */
async function canI(sa: string, verb: string, resource: string, ns: string): Promise<boolean> {
  const [kind, sub] = resource.endsWith('/status')
    ? [resource.slice(0, -7), 'status']
    : [resource, undefined];
  const args = ['auth', 'can-i', verb, kind, '-n', ns, `--as=system:serviceaccount:${NS}:${sa}`];
  if (sub) args.push(`--subresource=${sub}`);
  const r = await cp.kubectl(args);
  if (r.stdout.trim() !== 'yes' && r.stdout.trim() !== 'no')
    throw new Error(`kubectl auth can-i: ${r.stderr}`);
  return r.stdout.trim() === 'yes';
}

beforeAll(async () => {
  requireTool(HELM);
  cp = await startControlPlane();
  for (const ns of [NS, 'team-a', 'team-b', 'team-c']) await kubectl(['create', 'namespace', ns]);
  // Pod Security admission warns when a workload's pod template would violate "restricted".
  await kubectl(['label', 'namespace', NS, 'default', 'pod-security.kubernetes.io/warn=restricted']);
  await kubectl([
    'apply',
    '--server-side',
    '-f',
    join(FIXTURES, 'monitoring.coreos.com_servicemonitors.yaml'),
    '-f',
    join(FIXTURES, 'monitoring.coreos.com_prometheusrules.yaml'),
  ]);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
}, 180_000);

afterAll(async () => {
  await cp?.stop();
});

describe('server-side dry run', () => {
  // Every rendered object names its namespace, so no -n: the objects land where the chart puts them.
  async function dryRun(manifests: string) {
    return cp.kubectl(
      ['apply', '--server-side', '--dry-run=server', '--validate=strict', '-f', '-'],
      manifests,
    );
  }

  it('accepts the default render, within Pod Security "restricted"', async () => {
    const r = await dryRun(await renderText({}, { namespace: NS }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('deployment.apps/sluice-dataplane serverside-applied (server dry run)');
    expect(r.stdout).toContain('customresourcedefinition.apiextensions.k8s.io/airoutes.gateway.sluice.dev');
    expect(r.stderr).not.toContain('PodSecurity');
  });

  it('accepts the render with every toggle on, ServiceMonitor and PrometheusRule included', async () => {
    const r = await dryRun(
      await renderText(ALL_TOGGLES_ON, { namespace: NS, apiVersions: [MONITORING_API] }),
    );
    expect(r.code, r.stderr).toBe(0);
    for (const obj of [
      'servicemonitor.monitoring.coreos.com/sluice-dataplane',
      'servicemonitor.monitoring.coreos.com/sluice-operator',
      'prometheusrule.monitoring.coreos.com/sluice',
      'horizontalpodautoscaler.autoscaling/sluice-dataplane',
      'ingress.networking.k8s.io/sluice-dataplane',
      'networkpolicy.networking.k8s.io/sluice-dataplane',
      'role.rbac.authorization.k8s.io/sluice-operator-watch',
      'configmap/sluice-dashboard',
    ])
      expect(r.stdout).toContain(`${obj} serverside-applied (server dry run)`);
    expect(r.stderr).not.toContain('PodSecurity');
  });

  it('would flag a pod template outside "restricted" (the check above can fail)', async () => {
    const r = await dryRun(
      await renderText(
        { dataplane: { securityContext: { allowPrivilegeEscalation: true } } },
        { namespace: NS },
      ),
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false/,
    );
  });

  it('rejects a field the ServiceMonitor schema does not have', async () => {
    const text = (await renderText(ALL_TOGGLES_ON, { namespace: NS, apiVersions: [MONITORING_API] })).replace(
      'scrapeTimeout: 10s',
      'scrapeTimeout: 10s\n      scrapeTimout: 10s',
    );
    const r = await dryRun(text);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('.spec.endpoints[0].scrapeTimout: field not declared in schema');
  });

  it('accepts the sidecar example within Pod Security "restricted"', async () => {
    const r = await cp.kubectl([
      'apply',
      '--server-side',
      '--dry-run=server',
      '--validate=strict',
      '-n',
      'default',
      '-f',
      join(REPO_ROOT, 'config/sidecar/deployment.yaml'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('deployment.apps/chat-app serverside-applied (server dry run)');
    expect(r.stderr).not.toContain('PodSecurity');
  });
});

describe('helm install, upgrade, uninstall', () => {
  const installValues = {
    ...ALL_TOGGLES_ON,
    crds: { annotations: { 'sluice.dev/crd-revision': 'one' } },
  };

  it('install creates every object with the right fields', async () => {
    const vf = valuesFile(installValues);
    try {
      const r = await helm(['install', 'sluice', CHART_DIR, '-n', NS, '-f', vf.path]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('STATUS: deployed');
      expect(r.stdout).toContain('Sluice 0.1.0 is installed as release "sluice"');
    } finally {
      vf.cleanup();
    }
    expect(await releaseObjects()).toEqual([
      // the roles for people (docs/security.md): cluster-wide, granting nothing until bound
      'ClusterRole//sluice-admin',
      'ClusterRole//sluice-tenant-edit',
      'ClusterRole//sluice-view',
      'ConfigMap/sluice-system/sluice-dashboard',
      'ConfigMap/sluice-system/sluice-dataplane-base',
      'Deployment/sluice-system/sluice-dataplane',
      'Deployment/sluice-system/sluice-operator',
      'HorizontalPodAutoscaler/sluice-system/sluice-dataplane',
      'Ingress/sluice-system/sluice-dataplane',
      'NetworkPolicy/sluice-system/sluice-dataplane',
      'NetworkPolicy/sluice-system/sluice-operator',
      'PodDisruptionBudget/sluice-system/sluice-dataplane',
      'PodDisruptionBudget/sluice-system/sluice-operator',
      'PrometheusRule/sluice-system/sluice',
      'Role/sluice-system/sluice-dataplane',
      'Role/sluice-system/sluice-operator',
      'Role/team-a/sluice-operator-secrets',
      'Role/team-a/sluice-operator-watch',
      'Role/team-b/sluice-operator-secrets',
      'Role/team-b/sluice-operator-watch',
      'RoleBinding/sluice-system/sluice-dataplane',
      'RoleBinding/sluice-system/sluice-operator',
      'RoleBinding/team-a/sluice-operator-secrets',
      'RoleBinding/team-a/sluice-operator-watch',
      'RoleBinding/team-b/sluice-operator-secrets',
      'RoleBinding/team-b/sluice-operator-watch',
      'Secret/sluice-system/sluice-redis',
      'Service/sluice-system/sluice-dataplane',
      'Service/sluice-system/sluice-dataplane-admin',
      'Service/sluice-system/sluice-operator-metrics',
      'ServiceAccount/sluice-system/sluice-dataplane',
      'ServiceAccount/sluice-system/sluice-operator',
      'ServiceMonitor/sluice-system/sluice-dataplane',
      'ServiceMonitor/sluice-system/sluice-operator',
    ]);

    const [op] = await getJson(['deploy', 'sluice-operator', '-n', NS]);
    expect(get(op, 'spec.replicas')).toBe(2);
    expect(getArray(op, 'spec.template.spec.containers.0.args')).toEqual(
      expect.arrayContaining([
        'operator',
        '--leader-elect',
        '--namespaces=team-a,team-b',
        `--output-namespace=${NS}`,
      ]),
    );
    const [dp] = await getJson(['deploy', 'sluice-dataplane', '-n', NS]);
    expect(get(dp, 'spec.template.spec.containers.0.lifecycle.preStop.sleep.seconds')).toBe(10);
    expect(get(dp, 'spec.template.spec.containers.0.securityContext.readOnlyRootFilesystem')).toBe(true);
    const [hpa] = await getJson(['hpa', 'sluice-dataplane', '-n', NS]);
    expect(getArray(hpa, 'spec.metrics').map((m) => get(m, 'type'))).toEqual(['Resource', 'Pods']);
    const [svc] = await getJson(['svc', 'sluice-dataplane', '-n', NS]);
    expect(get(svc, 'spec.ports.0')).toMatchObject({ name: 'http', port: 80, targetPort: 'http' });

    const crds = await getJson(['crd', ...CRD_NAMES]);
    expect(crds.map((c) => c.metadata.annotations?.['helm.sh/resource-policy'])).toEqual([
      'keep',
      'keep',
      'keep',
      'keep',
    ]);
    expect(crds.map((c) => c.metadata.annotations?.['sluice.dev/crd-revision'])).toEqual([
      'one',
      'one',
      'one',
      'one',
    ]);
  });

  it('grants the operator and dataplane exactly the access they need', async () => {
    const aip = 'aiproviders.gateway.sluice.dev';
    const lease = 'leases.coordination.k8s.io';
    // [service account, verb, resource, namespace, allowed]
    const table: [string, string, string, string, boolean][] = [
      ['sluice-operator', 'list', aip, 'team-a', true],
      ['sluice-operator', 'watch', 'airoutes.gateway.sluice.dev', 'team-b', true],
      ['sluice-operator', 'update', 'airoutes.gateway.sluice.dev/status', 'team-b', true],
      ['sluice-operator', 'get', 'secrets', 'team-a', true],
      // Not watched: no access at all.
      ['sluice-operator', 'list', aip, 'team-c', false],
      ['sluice-operator', 'get', 'secrets', 'team-c', false],
      // Reads, never writes, users' Secrets and specs.
      ['sluice-operator', 'create', 'secrets', 'team-a', false],
      ['sluice-operator', 'update', aip, 'team-a', false],
      ['sluice-operator', 'delete', aip, 'team-a', false],
      // Writes only its own rendered ConfigMap and Secret in the release namespace.
      ['sluice-operator', 'patch', 'configmaps/sluice-dataplane-config', NS, true],
      ['sluice-operator', 'patch', 'secrets/sluice-dataplane-secrets', NS, true],
      ['sluice-operator', 'patch', 'configmaps/sluice-dashboard', NS, false],
      ['sluice-operator', 'list', 'secrets', NS, false],
      ['sluice-operator', 'delete', 'configmaps/sluice-dataplane-config', NS, false],
      ['sluice-operator', 'create', lease, NS, true],
      // Reads only its own Deployment (to own the rendered objects).
      ['sluice-operator', 'get', 'deployments.apps/sluice-operator', NS, true],
      ['sluice-operator', 'get', 'deployments.apps/sluice-dataplane', NS, false],
      ['sluice-dataplane', 'create', lease, NS, true],
      ['sluice-dataplane', 'update', lease, NS, true],
      ['sluice-dataplane', 'delete', lease, NS, true],
      ['sluice-dataplane', 'get', 'secrets', NS, false],
      ['sluice-dataplane', 'get', 'configmaps', NS, false],
      ['sluice-dataplane', 'create', lease, 'team-a', false],
    ];
    const line = (sa: string, verb: string, resource: string, ns: string, ok: boolean) =>
      `${sa} ${verb} ${resource} -n ${ns}: ${ok}`;
    const actual = await Promise.all(
      table.map(async ([sa, verb, resource, ns]) =>
        line(sa, verb, resource, ns, await canI(sa, verb, resource, ns)),
      ),
    );
    expect(actual).toEqual(table.map((row) => line(...row)));
  });

  it('upgrade switches RBAC to cluster-wide, updates the HPA and the CRDs, and removes what was turned off', async () => {
    // A user's resource, which must survive everything below.
    await kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'gateway.sluice.dev/v1alpha1',
        kind: 'AIProvider',
        metadata: { name: 'mock', namespace: 'team-a' },
        spec: { type: 'mock', models: [{ name: 'mock-small' }] },
      }),
    );
    const vf = valuesFile({
      ...installValues,
      operator: { watchNamespaces: [] },
      dataplane: { autoscaling: { maxReplicas: 5 } },
      ingress: { enabled: false },
      crds: { annotations: { 'sluice.dev/crd-revision': 'two' } },
    });
    try {
      const r = await helm(['upgrade', 'sluice', CHART_DIR, '-n', NS, '-f', vf.path]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('REVISION: 2');
    } finally {
      vf.cleanup();
    }
    const objs = await releaseObjects();
    expect(objs).not.toContain('Role/team-a/sluice-operator-watch');
    expect(objs).not.toContain('Ingress/sluice-system/sluice-dataplane');
    const cluster = await getJson([
      'clusterrole,clusterrolebinding',
      '-l',
      'app.kubernetes.io/instance=sluice',
    ]);
    expect(cluster.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ClusterRole/sluice-admin',
      'ClusterRole/sluice-operator',
      'ClusterRole/sluice-tenant-edit',
      'ClusterRole/sluice-view',
      'ClusterRoleBinding/sluice-operator',
    ]);
    expect(await canI('sluice-operator', 'list', 'aiproviders.gateway.sluice.dev', 'team-c')).toBe(true);
    const [hpa] = await getJson(['hpa', 'sluice-dataplane', '-n', NS]);
    expect(get(hpa, 'spec.maxReplicas')).toBe(5);
    const [op] = await getJson(['deploy', 'sluice-operator', '-n', NS]);
    expect(
      getArray(op, 'spec.template.spec.containers.0.args').some((a) => String(a).startsWith('--namespaces')),
    ).toBe(false);
    // CRDs are templates, so the upgrade updated them.
    const crds = await getJson(['crd', ...CRD_NAMES]);
    expect(crds.map((c) => c.metadata.annotations?.['sluice.dev/crd-revision'])).toEqual([
      'two',
      'two',
      'two',
      'two',
    ]);
  });

  it('uninstall removes every release object but keeps the CRDs and users resources', async () => {
    const r = await helm(['uninstall', 'sluice', '-n', NS]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(
      /These resources were kept due to the resource policy:[\s\S]*CustomResourceDefinition/,
    );
    expect(await releaseObjects()).toEqual([]);
    expect((await getJson(['crd', ...CRD_NAMES])).map((c) => c.metadata.name)).toEqual(CRD_NAMES);
    expect((await getJson(['aiprovider', 'mock', '-n', 'team-a']))[0]?.metadata.name).toBe('mock');
    const list = await helm(['list', '-n', NS, '-q']);
    expect(list.stdout.trim()).toBe('');
  });
});
