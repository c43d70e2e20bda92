// Least privilege and the roles for people (issue 14, items 4 and 5), checked on a real API server
// against the chart as `helm install` lays it out (every namespace watched, the default):
//   * the operator may `get` Secrets only in the secret namespaces (no list/watch anywhere, nothing
//     in kube-system), and `update` only its own leader Lease;
//   * the dataplane's service account may write only replica Leases: the admission policy refuses
//     its requests on the operator's leader Lease (real requests, impersonated), on other names, and
//     on another pod's Lease when its token names its pod;
//   * <release>-tenant-edit, aggregated into the built-in admin/edit (kube-controller-manager's
//     clusterrole-aggregation controller runs here), lets tenants write AINamespace and AIPolicy but
//     not AIProvider/AIRoute; <release>-admin writes everything; view reads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane } from '../envtest/controlplane.ts';
import { CHART_DIR, HELM, requireTool, run, valuesFile } from './helm.ts';

const NS = 'sluice-system';
let cp: ControlPlane;

async function kubectl(args: string[], input?: string): Promise<string> {
  const r = await cp.kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

async function canI(as: string, verb: string, resource: string, ns: string): Promise<boolean> {
  const r = await cp.kubectl(['auth', 'can-i', verb, resource, '-n', ns, `--as=${as}`]);
  const out = r.stdout.trim();
  if (out !== 'yes' && out !== 'no') throw new Error(`kubectl auth can-i: ${r.stderr}`);
  return out === 'yes';
}

const sa = (name: string) => `system:serviceaccount:${NS}:${name}`;

const lease = (name: string, labelled = true) =>
  JSON.stringify({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace: NS,
      ...(labelled ? { labels: { 'gateway.sluice.dev/replica-report': 'true' } } : {}),
    },
    spec: { holderIdentity: name },
  });

/** Update (PUT, the verb the dataplane's Role grants) a Lease with one more annotation, as the dataplane. */
async function updateLeaseAsDataplane(name: string, extra: string[] = []) {
  const current = JSON.parse(await kubectl(['get', 'lease', name, '-n', NS, '-o', 'json'])) as {
    metadata: { annotations?: Record<string, string> };
  };
  current.metadata.annotations = { ...current.metadata.annotations, touched: String(Date.now()) };
  return asDataplane(['replace', '-f', '-'], JSON.stringify(current), extra);
}

/** A real write as the dataplane's service account: resolves with kubectl's exit code and stderr. */
async function asDataplane(args: string[], input?: string, extra: string[] = []) {
  const r = await cp.kubectl([...args, `--as=${sa('sluice-dataplane')}`, ...extra], input);
  return { code: r.code, stderr: r.stderr };
}

beforeAll(async () => {
  requireTool(HELM);
  cp = await startControlPlane();
  await cp.startControllerManager({ controllers: ['clusterrole-aggregation'] });
  for (const ns of [NS, 'team-a', 'team-b']) await kubectl(['create', 'namespace', ns]);
  const vf = valuesFile({ operator: { secretNamespaces: ['team-a'] } });
  try {
    const r = await run(
      requireTool(HELM),
      ['install', 'sluice', CHART_DIR, '-n', NS, '-f', vf.path, '--kubeconfig', cp.kubeconfigPath],
      { timeoutMs: 120_000 },
    );
    if (r.code !== 0) throw new Error(`helm install failed: ${r.stderr}`);
  } finally {
    vf.cleanup();
  }
  await policyEnforced();
}, 240_000);

/**
 * The API server loads a ValidatingAdmissionPolicy (and its binding) asynchronously after helm creates
 * them: until it does, writes pass on RBAC alone. Wait until a dry-run write of the operator's Lease as
 * the dataplane is refused by the policy, so the tests see the installed chart as a cluster enforces it.
 */
async function policyEnforced(): Promise<void> {
  await kubectl(['apply', '-f', '-'], lease('sluice-operator', false));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await updateLeaseAsDataplane('sluice-operator', ['--dry-run=server']);
    if (r.code !== 0 && r.stderr.includes('the dataplane may only write replica Leases')) return;
    if (Date.now() > deadline) throw new Error(`the Lease admission policy was never enforced: ${r.stderr}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

afterAll(async () => {
  await cp?.stop();
});

describe('the operator', () => {
  it('gets Secrets only in the secret namespaces, never lists or watches them, and renews only its own Lease', async () => {
    const op = sa('sluice-operator');
    const table: Array<[string, string, string, boolean]> = [
      ['get', 'secrets', 'team-a', true],
      ['list', 'secrets', 'team-a', false],
      ['watch', 'secrets', 'team-a', false],
      ['get', 'secrets', 'team-b', false],
      ['get', 'secrets', 'kube-system', false],
      ['list', 'secrets', 'kube-system', false],
      // Helm's release Secrets live in the release namespace: not readable either
      ['get', 'secrets/sh.helm.release.v1.sluice.v1', NS, false],
      ['list', 'secrets', NS, false],
      // its own rendered Secret only
      ['get', 'secrets/sluice-dataplane-secrets', NS, true],
      // still watches the custom resources everywhere
      ['list', 'ainamespaces.gateway.sluice.dev', 'team-b', true],
      ['update', 'leases.coordination.k8s.io/sluice-operator', NS, true],
      ['update', 'leases.coordination.k8s.io/sluice-dataplane-abc', NS, false],
      ['list', 'leases.coordination.k8s.io', NS, true],
    ];
    const actual = await Promise.all(
      table.map(async ([verb, res, ns]) => `${verb} ${res} -n ${ns}: ${await canI(op, verb, res, ns)}`),
    );
    expect(actual).toEqual(table.map(([verb, res, ns, ok]) => `${verb} ${res} -n ${ns}: ${ok}`));
  });
});

describe('the dataplane', () => {
  it('writes replica Leases but can neither take nor delete the operator leader Lease', async () => {
    // the leader Lease, as the operator would hold it
    await kubectl(['apply', '-f', '-'], lease('sluice-operator', false));
    // RBAC alone would allow it (names are not known in advance) ...
    expect(
      await canI(sa('sluice-dataplane'), 'delete', 'leases.coordination.k8s.io/sluice-operator', NS),
    ).toBe(true);
    // ... the admission policy does not
    const del = await asDataplane(['delete', 'lease', 'sluice-operator', '-n', NS]);
    expect(del.code).not.toBe(0);
    expect(del.stderr).toContain('the dataplane may only write replica Leases');
    const take = await updateLeaseAsDataplane('sluice-operator');
    expect(take.code).not.toBe(0);
    expect(take.stderr).toContain('the dataplane may only write replica Leases');
    expect(await kubectl(['get', 'lease', 'sluice-operator', '-n', NS, '-o', 'name'])).toContain(
      'sluice-operator',
    );

    // its own kind of Lease: created, updated and deleted
    expect(await asDataplane(['create', '-f', '-'], lease('sluice-dataplane-pod-1'))).toMatchObject({
      code: 0,
    });
    expect(await updateLeaseAsDataplane('sluice-dataplane-pod-1')).toMatchObject({ code: 0 });
    // without the replica label, or under another name: refused
    const unlabelled = await asDataplane(['create', '-f', '-'], lease('sluice-dataplane-pod-2', false));
    expect(unlabelled.stderr).toContain('carry the gateway.sluice.dev/replica-report=true label');
    const other = await asDataplane(['create', '-f', '-'], lease('kube-scheduler-ish'));
    expect(other.stderr).toContain('the dataplane may only write replica Leases');
  });

  it('a replica whose token names its pod writes only its own Lease', async () => {
    const pod = ['--as-user-extra=authentication.kubernetes.io/pod-name=pod-1'];
    const own = await updateLeaseAsDataplane('sluice-dataplane-pod-1', pod);
    expect(own, own.stderr).toMatchObject({ code: 0 });
    const another = await asDataplane(['create', '-f', '-'], lease('sluice-dataplane-pod-3'), pod);
    expect(another.stderr).toContain('a dataplane replica may only write its own Lease');
    expect(
      (await asDataplane(['delete', 'lease', 'sluice-dataplane-pod-1', '-n', NS], undefined, pod)).code,
    ).toBe(0);
  });
});

describe('roles for people', () => {
  beforeAll(async () => {
    const bind = (name: string, role: string, kind = 'ClusterRole') =>
      kubectl([
        'create',
        'rolebinding',
        name,
        '-n',
        'team-a',
        `--${kind.toLowerCase()}=${role}`,
        `--user=${name}`,
      ]);
    await bind('alice', 'sluice-tenant-edit');
    await bind('bob', 'edit'); // the built-in role, which tenant-edit aggregates into
    await bind('carol', 'view');
    await kubectl([
      'create',
      'clusterrolebinding',
      'platform',
      '--clusterrole=sluice-admin',
      '--user=platform',
    ]);
  });

  it('tenants write AINamespace and AIPolicy in their namespace only; the platform writes providers and routes', async () => {
    const g = (p: string) => `${p}.gateway.sluice.dev`;
    const table: Array<[string, string, string, string, boolean]> = [
      ['alice', 'create', g('ainamespaces'), 'team-a', true],
      ['alice', 'update', g('aipolicies'), 'team-a', true],
      ['alice', 'list', g('airoutes'), 'team-a', true],
      ['alice', 'create', g('aiproviders'), 'team-a', false],
      ['alice', 'create', g('airoutes'), 'team-a', false],
      ['alice', 'create', g('ainamespaces'), 'team-b', false],
      ['bob', 'create', g('ainamespaces'), 'team-a', true],
      ['bob', 'delete', g('aipolicies'), 'team-a', true],
      ['bob', 'create', g('aiproviders'), 'team-a', false],
      ['carol', 'list', g('aiproviders'), 'team-a', true],
      ['carol', 'create', g('ainamespaces'), 'team-a', false],
      ['platform', 'create', g('aiproviders'), 'team-b', true],
      ['platform', 'delete', g('airoutes'), 'team-a', true],
    ];
    // aggregation into the built-in roles is done by a controller: give it a moment
    const deadline = Date.now() + 30_000;
    let actual: string[] = [];
    const expected = table.map(([u, verb, res, ns, ok]) => `${u} ${verb} ${res} -n ${ns}: ${ok}`);
    do {
      actual = await Promise.all(
        table.map(
          async ([u, verb, res, ns]) => `${u} ${verb} ${res} -n ${ns}: ${await canI(u, verb, res, ns)}`,
        ),
      );
      if (actual.join() === expected.join()) break;
      await new Promise((r) => setTimeout(r, 500));
    } while (Date.now() < deadline);
    expect(actual).toEqual(expected);
  });
});
