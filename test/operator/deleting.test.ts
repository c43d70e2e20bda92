// An object being deleted but held by a finalizer (another controller's, a backup tool's) is gone for
// the gateway: deleting an AINamespace, or the Secret of a tenant's API keys, revokes them at once.
// Before, the operator rendered whatever its cache held, so the deleted tenant kept being served, and
// the deleted Secret's keys kept working, until the finalizer was removed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeStoredText, parseConfigText, validateConfig } from '../../dataplane/src/config/load.ts';
import type { Operator } from '../../operator/src/controller/operator.ts';
import { type SluiceEnv, startSluiceEnv } from '../envtest/sluice_env.ts';
import {
  apply,
  applySecret,
  type ConfigMap,
  cmPath,
  cr,
  get,
  OUT_NS,
  pathOf,
  remove,
  secretPath,
  startOperator,
  waitFor,
} from './helpers.ts';

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

async function entry(name: string) {
  const cm = await get<ConfigMap>(env.rest, cmPath);
  const text = cm?.data?.['config.yaml'];
  return text
    ? validateConfig(parseConfigText(text, 'config.yaml')).namespaces.find((n) => n.name === name)
    : undefined;
}

async function keyNames(file: string): Promise<string[] | undefined> {
  const raw = (await get<{ data?: Record<string, string> }>(env.rest, secretPath))?.data?.[file];
  if (raw === undefined) return undefined;
  const list = JSON.parse(decodeStoredText(Buffer.from(raw, 'base64').toString('utf8')));
  return list.map((k: { name: string }) => k.name);
}

async function release(path: string): Promise<void> {
  await env.rest.request('PATCH', path, {
    body: { metadata: { finalizers: null } },
    contentType: 'application/merge-patch+json',
  });
}

describe('objects held by a finalizer after deletion', () => {
  it('a deleted AINamespace and a deleted key Secret stop being served while the finalizer holds them', async () => {
    await applySecret(env.rest, A, 'p-key', { apiKey: 'sk-provider' });
    await apply(
      env.rest,
      cr('AIProvider', 'p', A, { type: 'openai', credentials: { apiKeySecretRef: { name: 'p-key' } } }),
    );
    await apply(env.rest, cr('AIRoute', 'chat', A, { backends: [{ providerRef: { name: 'p' } }] }));
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
      async () => (await entry('team-a.leaving')) && (await entry('team-a.keyed')),
    );
    expect(await keyNames('ainamespace.team-a.keyed.apikeys.json')).toEqual(['keys.alice']);

    await remove(env.rest, pathOf('AINamespace', A, 'leaving'));
    await remove(env.rest, `/api/v1/namespaces/${A}/secrets/keys`);
    // both still exist (deletionTimestamp set, the finalizer holds them) ...
    expect(
      (await get(env.rest, pathOf('AINamespace', A, 'leaving')))?.metadata.deletionTimestamp,
    ).toBeDefined();
    // ... but the gateway no longer serves them: the tenant is gone, the keys' tenant is rejected
    await waitFor(
      'deleted tenant left out',
      async () => (await entry('team-a.leaving')) === undefined && true,
    );
    const keyed = await waitFor(
      'deleted Secret not read',
      async () => {
        const n = await entry('team-a.keyed');
        return n?.rejected ? n : undefined;
      },
      20_000,
    );
    expect(keyed.rejected).toContain('Secret "keys" not found');
    expect((await keyNames('ainamespace.team-a.keyed.apikeys.json')) ?? []).toEqual([]);

    await release(pathOf('AINamespace', A, 'leaving'));
    await release(`/api/v1/namespaces/${A}/secrets/keys`);
  }, 60_000);
});
