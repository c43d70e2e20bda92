// The chart's RBAC for endpoint discovery (docs/self-hosted.md): the dataplane may read EndpointSlices
// only in the namespaces listed, through a Role in each, and nothing when none are listed.
import { describe, expect, it } from 'vitest';
import { find, get, type K8sObject, one, render } from './helm.ts';

function inNamespace(objs: K8sObject[], kind: string, name: string, ns: string): K8sObject {
  const found = find(objs, kind, name).filter((o) => o.metadata.namespace === ns);
  expect(found).toHaveLength(1);
  return found[0] as K8sObject;
}

describe('dataplane endpoint discovery RBAC', () => {
  it('grants nothing by default', async () => {
    const objs = await render();
    expect(objs.filter((o) => o.metadata.name.endsWith('-endpointslices'))).toEqual([]);
  });

  it('a read-only EndpointSlice Role and its binding in each listed namespace, the token mounted', async () => {
    const objs = await render({
      dataplane: { reportLease: false, endpointDiscovery: { namespaces: ['models', 'llm'] } },
    });
    for (const ns of ['models', 'llm']) {
      const role = inNamespace(objs, 'Role', 'sluice-dataplane-endpointslices', ns);
      expect(get(role, 'rules')).toEqual([
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
      ]);
      const binding = inNamespace(objs, 'RoleBinding', 'sluice-dataplane-endpointslices', ns);
      expect(get(binding, 'roleRef.name')).toBe('sluice-dataplane-endpointslices');
      expect(get(binding, 'subjects')).toEqual([
        { kind: 'ServiceAccount', name: 'sluice-dataplane', namespace: 'sluice-system' },
      ]);
    }
    expect(find(objs, 'ClusterRole').filter((o) => o.metadata.name.includes('dataplane'))).toEqual([]);
    // without the Lease the token was not mounted; discovery needs it
    expect(
      get(one(objs, 'Deployment', 'sluice-dataplane'), 'spec.template.spec.automountServiceAccountToken'),
    ).toBe(true);
    expect(get(one(objs, 'ServiceAccount', 'sluice-dataplane'), 'automountServiceAccountToken')).toBe(true);
  });
});
