// The operator against a real kube-apiserver: create, update and delete each kind, references that
// appear late, Secret rotation, truthful conditions and Events, Programmed from replica Leases.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText, validateConfig } from '../../dataplane/src/config/load.ts';
import { LeaseReporter } from '../../dataplane/src/k8s/lease_reporter.ts';
import { loadKubeCredentials } from '../../kube/kube_credentials.ts';
import { KubeRest } from '../../kube/kube_rest.ts';
import type { Operator } from '../../operator/src/controller/operator.ts';
import { type SluiceEnv, startSluiceEnv } from '../envtest/sluice_env.ts';
import {
  apply,
  applySecret,
  type ConfigMap,
  cmPath,
  condition,
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
const NS = 'team-a';

beforeAll(async () => {
  env = await startSluiceEnv();
  await env.namespace(OUT_NS);
  await env.namespace(NS);
  op = await startOperator(env.kc);
});
afterAll(async () => {
  await op?.stop();
  await env?.stop();
});

async function renderedConfig() {
  const cm = await get<ConfigMap>(env.rest, cmPath);
  return cm?.data?.['config.yaml']
    ? validateConfig(parseConfigText(cm.data['config.yaml'], 'config.yaml'))
    : undefined;
}

describe('operator reconcile', () => {
  it('renders a provider and a route into the ConfigMap and Secret, with true conditions', async () => {
    await applySecret(env.rest, NS, 'openai-key', { apiKey: 'sk-first' });
    await apply(
      env.rest,
      cr('AIProvider', 'openai', NS, {
        type: 'openai',
        credentials: { apiKeySecretRef: { name: 'openai-key' } },
      }),
    );
    await apply(
      env.rest,
      cr('AIRoute', 'chat', NS, {
        match: { models: ['gpt-4o*'] },
        backends: [{ providerRef: { name: 'openai' } }],
      }),
    );
    const cfg = await waitFor(
      'rendered route',
      async () => (await renderedConfig())?.routes.some((r) => r.name === 'team-a.chat') && renderedConfig(),
    );
    expect(cfg?.providers.map((p) => p.name)).toContain('team-a.openai');
    const cm = await get<ConfigMap>(env.rest, cmPath);
    expect(cm?.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('sluice-operator');
    expect(cm?.metadata.annotations?.['gateway.sluice.dev/config-hash']).toBe(op.lastHash);
    expect(cm?.metadata.annotations?.['gateway.sluice.dev/content-hash']).toMatch(/^[0-9a-f]{32}$/);
    expect(cm?.data?.['config.yaml']).not.toContain('sk-first');
    const secret = await get<{ data: Record<string, string> }>(env.rest, secretPath);
    expect(Buffer.from(secret?.data['provider.team-a.openai.apiKey'] ?? '', 'base64').toString()).toBe(
      'sk-first',
    );

    const route = await waitFor('route status', async () => {
      const r = await get(env.rest, pathOf('AIRoute', NS, 'chat'));
      return condition(r, 'Accepted')?.status === 'True' && r;
    });
    expect(route.status?.observedGeneration).toBe(1);
    expect(condition(route, 'ResolvedRefs')).toMatchObject({ status: 'True', observedGeneration: 1 });
    // no dataplane replica reports yet: not Programmed, and Ready says why
    expect(condition(route, 'Programmed')).toMatchObject({ status: 'False', reason: 'NoReplicas' });
    expect(condition(route, 'Ready')).toMatchObject({ status: 'False', reason: 'NoReplicas' });
  });

  it('Programmed follows the replica Leases: True only when every live replica serves the generation', async () => {
    const log = pino({ level: 'silent' });
    // the replicas authenticate as a dataplane does: its own loader, not client-node's KubeConfig
    const creds = loadKubeCredentials({ env: { KUBECONFIG: env.cp.kubeconfigPath } });
    const rest = new KubeRest(creds);
    const a = new LeaseReporter({ rest, namespace: OUT_NS, podName: 'dp-a', log });
    const b = new LeaseReporter({ rest, namespace: OUT_NS, podName: 'dp-b', log });
    const revision = op.lastRevision;
    expect(revision).toBeGreaterThan(0);
    a.report(op.lastHash, revision);
    b.report('0000000000000000', revision - 1);
    await Promise.all([a.flush(), b.flush()]);
    const pending = await waitFor('Pending', async () => {
      const r = await get(env.rest, pathOf('AIRoute', NS, 'chat'));
      return condition(r, 'Programmed')?.reason === 'Pending' && condition(r, 'Programmed');
    });
    expect(pending.message).toBe(
      `generation 1 is in config revision ${revision}; waiting for dp-b (revision ${revision - 1})`,
    );
    b.report(op.lastHash, revision);
    await b.flush();
    const done = await waitFor('Programmed', async () => {
      const r = await get(env.rest, pathOf('AIRoute', NS, 'chat'));
      return condition(r, 'Programmed')?.status === 'True' && r;
    });
    expect(condition(done, 'Programmed')?.message).toBe('every live dataplane replica serves generation 1');
    expect(condition(done, 'Ready')?.status).toBe('True');
    // a replica that stops deletes its Lease and no longer counts
    await b.stop();
    await a.stop();
    creds.close();
    await waitFor(
      'NoReplicas again',
      async () =>
        condition(await get(env.rest, pathOf('AIRoute', NS, 'chat')), 'Programmed')?.reason === 'NoReplicas',
    );
  });

  it('a route whose provider is missing is ResolvedRefs=False naming it, never Accepted, until the provider appears', async () => {
    await apply(
      env.rest,
      cr('AIRoute', 'late', NS, {
        match: { models: ['late-*'] },
        backends: [{ providerRef: { name: 'late-provider' } }],
      }),
    );
    const route = await waitFor('unresolved', async () => {
      const r = await get(env.rest, pathOf('AIRoute', NS, 'late'));
      return condition(r, 'ResolvedRefs')?.status === 'False' && r;
    });
    expect(condition(route, 'ResolvedRefs')).toMatchObject({
      reason: 'RefNotFound',
      message: 'AIProvider "late-provider" not found',
    });
    expect(condition(route, 'Accepted')).toMatchObject({ status: 'False', reason: 'InvalidRefs' });
    expect(condition(route, 'Programmed')).toMatchObject({ status: 'False', reason: 'NotAccepted' });
    expect((await renderedConfig())?.routes.map((r) => r.name)).not.toContain('team-a.late');
    const events = await waitFor('warning event', async () => {
      const list = await env.rest.request<{
        items: Array<{ type: string; reason: string; message: string; involvedObject: { name: string } }>;
      }>('GET', `/api/v1/namespaces/${NS}/events`);
      const mine = list.items.filter((e) => e.involvedObject.name === 'late' && e.type === 'Warning');
      return (
        mine.some((e) => e.reason === 'RefNotFound') && mine.some((e) => e.reason === 'InvalidRefs') && mine
      );
    });
    expect(events.map((e) => e.reason)).toEqual(expect.arrayContaining(['InvalidRefs', 'RefNotFound']));

    await apply(env.rest, cr('AIProvider', 'late-provider', NS, { type: 'mock' }));
    await waitFor(
      'resolved',
      async () =>
        condition(await get(env.rest, pathOf('AIRoute', NS, 'late')), 'Accepted')?.status === 'True',
    );
    expect((await renderedConfig())?.routes.map((r) => r.name)).toContain('team-a.late');
  });

  it('updates and deletes reach the config; observedGeneration follows the spec', async () => {
    await apply(
      env.rest,
      cr('AIRoute', 'late', NS, {
        match: { models: ['late-*', 'later'] },
        backends: [{ providerRef: { name: 'late-provider' } }],
      }),
    );
    await waitFor('updated route', async () =>
      (await renderedConfig())?.routes.find((r) => r.name === 'team-a.late')?.match.models?.includes('later'),
    );
    await waitFor('generation 2', async () => {
      const r = await get(env.rest, pathOf('AIRoute', NS, 'late'));
      return r?.status?.observedGeneration === 2 && condition(r, 'Accepted')?.observedGeneration === 2;
    });
    await remove(env.rest, pathOf('AIRoute', NS, 'late'));
    await waitFor(
      'route gone',
      async () => !(await renderedConfig())?.routes.some((r) => r.name === 'team-a.late'),
    );
    // deleting a provider in use: its route is no longer resolved
    await remove(env.rest, pathOf('AIProvider', NS, 'late-provider'));
    await apply(
      env.rest,
      cr('AIRoute', 'orphan', NS, {
        match: { models: ['o'] },
        backends: [{ providerRef: { name: 'late-provider' } }],
      }),
    );
    await waitFor(
      'orphan unresolved',
      async () =>
        condition(await get(env.rest, pathOf('AIRoute', NS, 'orphan')), 'ResolvedRefs')?.status === 'False',
    );
    await remove(env.rest, pathOf('AIRoute', NS, 'orphan'));
  });

  it('policies and tenants: API keys from a Secret become hashes; a missing policy fails the tenant closed', async () => {
    await apply(env.rest, cr('AIPolicy', 'limits', NS, { requests: { limit: 5, window: 'second' } }));
    await applySecret(env.rest, NS, 'tenant-keys', { alice: 'sk-alice-1', bob: 'sk-bob-1' });
    await apply(
      env.rest,
      cr('AINamespace', 'tenant', NS, {
        match: { apiKeys: { secretRefs: [{ name: 'tenant-keys' }] } },
        policies: ['limits'],
      }),
    );
    const cfg = await waitFor('tenant rendered', async () => {
      const c = await renderedConfig();
      return c?.namespaces.some((n) => n.name === 'team-a.tenant') && c;
    });
    expect(cfg.namespaces.find((n) => n.name === 'team-a.tenant')).toMatchObject({
      policies: ['team-a.limits'],
      routes: ['team-a.chat'],
    });
    const secret = await get<{ data: Record<string, string> }>(env.rest, secretPath);
    const keys = JSON.parse(
      Buffer.from(secret?.data['ainamespace.team-a.tenant.apikeys.json'] ?? '', 'base64').toString(),
    );
    expect(keys.map((k: { name: string }) => k.name)).toEqual(['tenant-keys.alice', 'tenant-keys.bob']);
    expect(JSON.stringify(secret?.data)).not.toContain(Buffer.from('sk-alice-1').toString('base64'));

    await remove(env.rest, pathOf('AIPolicy', NS, 'limits'));
    const t = await waitFor('tenant unresolved', async () => {
      const r = await get(env.rest, pathOf('AINamespace', NS, 'tenant'));
      return condition(r, 'ResolvedRefs')?.status === 'False' && r;
    });
    expect(condition(t, 'ResolvedRefs')?.message).toBe('AIPolicy "limits" not found');
    // kept as a rejected entry without policies or routes: its callers get 403, never another tenant
    await waitFor('tenant rendered as rejected', async () => {
      const n = (await renderedConfig())?.namespaces.find((x) => x.name === 'team-a.tenant');
      return n?.rejected?.includes('AIPolicy "limits" not found') && n.policies.length === 0 && !n.routes;
    });
    await remove(env.rest, pathOf('AINamespace', NS, 'tenant'));
  });

  it('updates of providers, policies and tenants reach the config', async () => {
    await apply(
      env.rest,
      cr('AIProvider', 'openai', NS, {
        type: 'openai',
        credentials: { apiKeySecretRef: { name: 'openai-key' } },
        models: [{ name: 'gpt-4o', contextWindow: 1000 }],
      }),
    );
    await apply(env.rest, cr('AIPolicy', 'quota', NS, { requests: { limit: 5, window: 'minute' } }));
    await apply(
      env.rest,
      cr('AINamespace', 'channel', NS, {
        match: { headers: [{ name: 'X-Channel-Code', equals: 'a' }] },
        policies: ['quota'],
      }),
    );
    await waitFor('first versions', async () => {
      const c = await renderedConfig();
      return (
        c?.providers.find((p) => p.name === 'team-a.openai')?.models[0]?.contextWindow === 1000 &&
        c.namespaces.some((n) => n.name === 'team-a.channel')
      );
    });
    await apply(
      env.rest,
      cr('AIProvider', 'openai', NS, {
        type: 'openai',
        credentials: { apiKeySecretRef: { name: 'openai-key' } },
        models: [{ name: 'gpt-4o', contextWindow: 2000 }],
      }),
    );
    await apply(env.rest, cr('AIPolicy', 'quota', NS, { requests: { limit: 7, window: 'minute' } }));
    await apply(
      env.rest,
      cr('AINamespace', 'channel', NS, {
        match: { headers: [{ name: 'X-Channel-Code', equals: 'b' }] },
        policies: ['quota'],
      }),
    );
    const cfg = await waitFor('updated versions', async () => {
      const c = await renderedConfig();
      const ok =
        c?.providers.find((p) => p.name === 'team-a.openai')?.models[0]?.contextWindow === 2000 &&
        c.policies.find((p) => p.name === 'team-a.quota')?.requests?.limit === 7 &&
        c.namespaces.find((n) => n.name === 'team-a.channel')?.match.headers?.[0]?.equals === 'b';
      return ok && c;
    });
    expect(cfg.namespaces.find((n) => n.name === 'team-a.channel')?.policies).toEqual(['team-a.quota']);
    // the provider was created in the first test (generation 1), so two updates make it 3
    for (const [kind, name, gen] of [
      ['AIProvider', 'openai', 3],
      ['AIPolicy', 'quota', 2],
      ['AINamespace', 'channel', 2],
    ] as const)
      await waitFor(
        `${kind} generation ${gen}`,
        async () => (await get(env.rest, pathOf(kind, NS, name)))?.status?.observedGeneration === gen,
      );
    await remove(env.rest, pathOf('AINamespace', NS, 'channel'));
    await remove(env.rest, pathOf('AIPolicy', NS, 'quota'));
    await waitFor('deleted', async () => {
      const c = await renderedConfig();
      return (
        !c?.namespaces.some((n) => n.name === 'team-a.channel') &&
        !c?.policies.some((p) => p.name === 'team-a.quota')
      );
    });
  });

  it('a rotated Secret rewrites only the Secret, not the ConfigMap', async () => {
    const before = await get<ConfigMap>(env.rest, cmPath);
    await applySecret(env.rest, NS, 'openai-key', { apiKey: 'sk-rotated' });
    await waitFor('rotated secret', async () => {
      const s = await get<{ data: Record<string, string> }>(env.rest, secretPath);
      return (
        Buffer.from(s?.data['provider.team-a.openai.apiKey'] ?? '', 'base64').toString() === 'sk-rotated'
      );
    });
    const after = await get<ConfigMap>(env.rest, cmPath);
    expect(after?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
  });

  it('a Secret removed from under a provider is reported on the provider with the Secret name', async () => {
    await apply(
      env.rest,
      cr('AIProvider', 'needs-secret', NS, {
        type: 'openai',
        credentials: { apiKeySecretRef: { name: 'not-there', key: 'token' } },
      }),
    );
    const p = await waitFor('provider unresolved', async () => {
      const r = await get(env.rest, pathOf('AIProvider', NS, 'needs-secret'));
      return condition(r, 'ResolvedRefs')?.status === 'False' && r;
    });
    expect(condition(p, 'ResolvedRefs')).toMatchObject({
      reason: 'SecretNotFound',
      message: 'Secret "not-there" not found',
    });
    await applySecret(env.rest, NS, 'not-there', { token: 'sk-late' });
    await waitFor(
      'provider accepted',
      async () =>
        condition(await get(env.rest, pathOf('AIProvider', NS, 'needs-secret')), 'Accepted')?.status ===
        'True',
    );
    await remove(env.rest, pathOf('AIProvider', NS, 'needs-secret'));
  });
});
