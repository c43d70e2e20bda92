// An object being deleted but held by a finalizer (another controller's, a backup tool's) is gone for
// the gateway: deleting an AINamespace, or the Secret of a tenant's API keys, revokes them at once.
// Before, the operator rendered whatever its cache held, so the deleted tenant kept being served, and
// the deleted Secret's keys kept working, until the finalizer was removed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Operator } from '../../operator/src/controller/operator.ts';
import { type SluiceEnv, startSluiceEnv } from '../envtest/sluice_env.ts';
import { apply, cr, get, OUT_NS, pathOf, remove, startOperator, waitFor } from './helpers.ts';
import { applyProviderAndRoute, renderedKeyNames, tenantEntry } from './tenant_outputs.ts';

let env: SluiceEnv;
let op: Operator;
const A = 'team-a';
const HOLD = { metadata: { finalizers: ['example.com/hold'] } };

beforeAll(async () => {
  env = await startSluiceEnv();
  for (const ns of [OUT_NS, A]) await env.namespace(ns);
  op = await startOperator(env.kc);
});
afterAll(async () => {
  await op?.stop();
  await env?.stop();
});

async function release(path: string): Promise<void> {
  await env.rest.request('PATCH', path, {
    body: { metadata: { finalizers: null } },
    contentType: 'application/merge-patch+json',
  });
}

describe('objects held by a finalizer after deletion', () => {
  it('a deleted AINamespace and a deleted key Secret stop being served while the finalizer holds them', async () => {
    await applyProviderAndRoute(env.rest, A);
    const leaving = cr('AINamespace', 'leaving', A, { match: { headers: [{ name: 'X-T', equals: 'l' }] } });
    await apply(env.rest, { ...leaving, metadata: { ...leaving.metadata, ...HOLD.metadata } });
    await env.rest.request('PATCH', `/api/v1/namespaces/${A}/secrets/keys`, {
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'keys', namespace: A, finalizers: ['example.com/hold'] },
        stringData: { alice: 'sk-alice' },
      },
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: 'test', force: 'true' },
    });
    await apply(
      env.rest,
      cr('AINamespace', 'keyed', A, { match: { apiKeys: { secretRefs: [{ name: 'keys' }] } } }),
    );
    await waitFor(
      'both tenants rendered',
      async () =>
        (await tenantEntry(env.rest, 'team-a.leaving')) && (await tenantEntry(env.rest, 'team-a.keyed')),
    );
    expect(await renderedKeyNames(env.rest, A, 'keyed')).toEqual(['keys.alice']);

    await remove(env.rest, pathOf('AINamespace', A, 'leaving'));
    await remove(env.rest, `/api/v1/namespaces/${A}/secrets/keys`);
    // both still exist (deletionTimestamp set, the finalizer holds them) ...
    expect(
      (await get(env.rest, pathOf('AINamespace', A, 'leaving')))?.metadata.deletionTimestamp,
    ).toBeDefined();
    // ... but the gateway no longer serves them: the tenant is gone, the keys' tenant is rejected
    await waitFor(
      'deleted tenant left out',
      async () => (await tenantEntry(env.rest, 'team-a.leaving')) === undefined && true,
    );
    const keyed = await waitFor(
      'deleted Secret not read',
      async () => {
        const n = await tenantEntry(env.rest, 'team-a.keyed');
        return n?.rejected ? n : undefined;
      },
      20_000,
    );
    expect(keyed.rejected).toContain('Secret "keys" not found');
    expect((await renderedKeyNames(env.rest, A, 'keyed')) ?? []).toEqual([]);

    await release(pathOf('AINamespace', A, 'leaving'));
    await release(`/api/v1/namespaces/${A}/secrets/keys`);
  }, 60_000);
});
