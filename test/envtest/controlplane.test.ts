// Starts a real etcd + kube-apiserver (+ kube-controller-manager) and checks
// kubectl, @kubernetes/client-node and server-side apply against it.
// Needs the binaries from scripts/install-tools.sh (or KUBEBUILDER_ASSETS).
import { existsSync, readFileSync } from 'node:fs';
import { CoreV1Api, VersionApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane } from './controlplane.ts';
import { kubeConfigFor } from './kubeconfig.ts';
import { probe } from './process.ts';

const NS = 'envtest-smoke';

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('envtest control plane', () => {
  let cp: ControlPlane;

  beforeAll(async () => {
    cp = await startControlPlane();
  }, 180_000);

  afterAll(async () => {
    const dir = cp?.dir;
    await cp?.stop();
    if (dir) expect(existsSync(dir)).toBe(false);
  }, 60_000);

  it('serves on loopback with a CA-verified kubeconfig and the pinned version', async () => {
    expect(cp.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(readFileSync(cp.kubeconfigPath, 'utf8')).toContain(cp.server);
    const version = await kubeConfigFor(cp).makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toMatch(/^v1\.\d+\.\d+/);
    const res = await cp.kubectl(['version', '-o', 'json']);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout).serverVersion.gitVersion).toBe(version.gitVersion);
  });

  it('enforces authentication and RBAC', async () => {
    const port = Number(new URL(cp.server).port);
    // A wrong token is rejected (401); no token is anonymous, which RBAC forbids (403).
    expect((await probe(port, '/api/v1/namespaces', 'not-the-token')).status).toBe(401);
    expect((await probe(port, '/api/v1/namespaces')).status).toBe(403);
    expect((await probe(port, '/api/v1/namespaces', cp.token)).status).toBe(200);
    const whoami = await cp.kubectl(['auth', 'whoami', '-o', 'json']);
    expect(whoami.code, whoami.stderr).toBe(0);
    expect(JSON.parse(whoami.stdout).status.userInfo.groups).toContain('system:masters');
    const rbac = await cp.kubectl(['auth', 'can-i', 'list', 'secrets', '--as=nobody', '-A']);
    expect(rbac.stdout.trim()).toBe('no');
  });

  it('creates a namespace and ConfigMap with kubectl and reads it back with client-node', async () => {
    const ns = await cp.kubectl(['create', 'namespace', NS]);
    expect(ns.code, ns.stderr).toBe(0);
    const cm = await cp.kubectl(['-n', NS, 'create', 'configmap', 'greeting', '--from-literal=hello=world']);
    expect(cm.code, cm.stderr).toBe(0);

    const core = kubeConfigFor(cp).makeApiClient(CoreV1Api);
    const got = await core.readNamespacedConfigMap({ name: 'greeting', namespace: NS });
    expect(got.data).toEqual({ hello: 'world' });
    expect(got.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);

    const listed = await core.listNamespacedConfigMap({ namespace: NS });
    expect(listed.items.map((c) => c.metadata?.name)).toContain('greeting');
  });

  it('supports server-side apply with field managers and conflicts', async () => {
    const manifest = (value: string) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'applied', namespace: NS },
        data: { owner: value },
      });
    const first = await cp.kubectl(
      ['apply', '--server-side', '--field-manager=sluice-a', '-f', '-'],
      manifest('a'),
    );
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('serverside-applied');

    const core = kubeConfigFor(cp).makeApiClient(CoreV1Api);
    const got = await core.readNamespacedConfigMap({ name: 'applied', namespace: NS });
    expect(got.data).toEqual({ owner: 'a' });
    expect(got.metadata?.managedFields?.map((f) => [f.manager, f.operation])).toContainEqual([
      'sluice-a',
      'Apply',
    ]);

    // Another manager changing an owned field conflicts unless it forces.
    const clash = await cp.kubectl(
      ['apply', '--server-side', '--field-manager=sluice-b', '-f', '-'],
      manifest('b'),
    );
    expect(clash.code).not.toBe(0);
    expect(clash.stderr).toMatch(/conflict/i);
    const forced = await cp.kubectl(
      ['apply', '--server-side', '--force-conflicts', '--field-manager=sluice-b', '-f', '-'],
      manifest('b'),
    );
    expect(forced.code, forced.stderr).toBe(0);
    const after = await core.readNamespacedConfigMap({ name: 'applied', namespace: NS });
    expect(after.data).toEqual({ owner: 'b' });
  });

  it('garbage-collects dependents once the controller manager runs', async () => {
    const kcm = await cp.startControllerManager();
    expect(kcm.pid).toBeGreaterThan(0);
    const core = kubeConfigFor(cp).makeApiClient(CoreV1Api);
    const owner = await core.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: 'owner' }, data: { role: 'owner' } },
    });
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: {
        metadata: {
          name: 'dependent',
          ownerReferences: [
            { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid! },
          ],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ name: 'owner', namespace: NS });
    await eventually(
      'the dependent ConfigMap to be collected',
      async () => {
        const r = await cp.kubectl([
          '-n',
          NS,
          'get',
          'configmap',
          'dependent',
          '--ignore-not-found',
          '-o',
          'name',
        ]);
        return r.code === 0 && r.stdout.trim() === '' ? true : undefined;
      },
      90_000,
    );
    await kcm.stop();
  }, 120_000);
});
