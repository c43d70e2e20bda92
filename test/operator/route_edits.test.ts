// What an operator of the cluster does to routes with kubectl, on a real API server: client-side then
// server-side apply of the same route, a fallback whose provider is missing, an edit that breaks a
// serving route, and the `kubectl get` columns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Operator } from '../../operator/src/controller/operator.ts';
import { type SluiceEnv, startSluiceEnv } from '../envtest/sluice_env.ts';
import { renderedRoutes } from './fault_helpers.ts';
import { apply, condition, cr, get, OUT_NS, pathOf, startOperator, waitFor } from './helpers.ts';

const NS = 'edits';
let env: SluiceEnv;
let op: Operator;

const route = (name: string, spec: Record<string, unknown>) =>
  stringify({
    apiVersion: 'gateway.sluice.dev/v1alpha1',
    kind: 'AIRoute',
    metadata: { name, namespace: NS },
    spec,
  });

beforeAll(async () => {
  env = await startSluiceEnv();
  await env.namespace(OUT_NS);
  await env.namespace(NS);
  for (const name of ['primary', 'backup'])
    await apply(env.rest, cr('AIProvider', name, NS, { type: 'mock' }));
  // a tenant, so the rendered config is not refused for serving anonymous callers
  await apply(
    env.rest,
    cr('AINamespace', 'team', NS, { match: { headers: [{ name: 'x-team', equals: 'a' }] } }),
  );
  op = await startOperator(env.kc, { namespaces: [NS] });
});
afterAll(async () => {
  await op?.stop();
  await env?.stop();
});

describe('route edits with kubectl', () => {
  it('kubectl apply, then kubectl apply --server-side of the same route: no conflict on fallback or backends', async () => {
    const spec = {
      match: { models: ['ssa-*'] },
      backends: [{ providerRef: { name: 'primary' } }, { providerRef: { name: 'backup' }, weight: 2 }],
      fallback: [{ providerRef: { name: 'backup' }, model: 'small' }],
    };
    await env.kubectlOk(['apply', '-f', '-'], route('ssa', spec));
    // before the fix the stored lists carried weight: 1 (a schema default) that the applied ones did
    // not, and the server-side apply failed with "conflict with kubectl-client-side-apply"
    const out = await env.kubectlOk(['apply', '--server-side', '-f', '-'], route('ssa', spec));
    expect(out).toContain('serverside-applied');
    const stored = await get(env.rest, pathOf('AIRoute', NS, 'ssa'));
    const storedSpec = stored?.spec as typeof spec | undefined;
    expect(storedSpec?.fallback).toEqual(spec.fallback);
    expect(storedSpec?.backends).toEqual(spec.backends);
    // and a fallback entry with a weight is not something the schema keeps
    const r = await env.cp.kubectl(
      ['apply', '--server-side', '--validate=strict', '-f', '-'],
      route('ssa', { ...spec, fallback: [{ providerRef: { name: 'backup' }, weight: 1 }] }),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('weight');
  });

  it('a missing fallback provider leaves out only that fallback; the route keeps serving and says so', async () => {
    await env.kubectlOk(
      ['apply', '-f', '-'],
      route('chat', {
        match: { models: ['chat-model'] },
        backends: [{ providerRef: { name: 'primary' } }],
        fallback: [{ providerRef: { name: 'typo-backup' } }, { providerRef: { name: 'backup' } }],
      }),
    );
    const chat = await waitFor('chat status', async () => {
      const r = await get(env.rest, pathOf('AIRoute', NS, 'chat'));
      return condition(r, 'ResolvedRefs')?.status === 'False' && r;
    });
    expect(condition(chat, 'Accepted')).toMatchObject({
      status: 'True',
      reason: 'AcceptedWithoutUnresolved',
    });
    expect(condition(chat, 'Accepted')?.message).toContain(
      'without spec.fallback[0]: AIProvider "typo-backup" not found',
    );
    expect(condition(chat, 'ResolvedRefs')?.message).toBe('AIProvider "typo-backup" not found');
    expect((await renderedRoutes(env.rest))['edits.chat']).toEqual(['chat-model']);
  });

  it('an edit that breaks a serving route keeps its last accepted generation serving, and status says so', async () => {
    await env.kubectlOk(
      ['apply', '-f', '-'],
      route('stable', { match: { models: ['stable-v1'] }, backends: [{ providerRef: { name: 'primary' } }] }),
    );
    await waitFor(
      'stable rendered',
      async () => (await renderedRoutes(env.rest))['edits.stable']?.[0] === 'stable-v1',
    );
    const events = async () =>
      (
        await env.rest.request<{
          items: Array<{ type: string; reason: string; involvedObject: { name: string } }>;
        }>('GET', `/api/v1/namespaces/${NS}/events`)
      ).items.filter((e) => e.involvedObject.name === 'stable');
    expect(await events()).toEqual([]); // accepted at once: nothing a person needs to hear about
    // generation 2 names a provider that does not exist
    await env.kubectlOk(
      ['apply', '-f', '-'],
      route('stable', { match: { models: ['stable-v2'] }, backends: [{ providerRef: { name: 'primray' } }] }),
    );
    const broken = await waitFor('generation 2 reported', async () => {
      const r = await get(env.rest, pathOf('AIRoute', NS, 'stable'));
      return condition(r, 'Accepted')?.observedGeneration === 2 && r;
    });
    expect(condition(broken, 'Accepted')).toMatchObject({ status: 'False', reason: 'InvalidRefs' });
    expect(condition(broken, 'Accepted')?.message).toBe(
      'not rendered: AIProvider "primray" not found; the dataplanes keep serving generation 1, the last accepted',
    );
    expect(condition(broken, 'Programmed')).toMatchObject({ status: 'False', reason: 'ServingLastAccepted' });
    // the dataplanes still serve generation 1
    expect((await renderedRoutes(env.rest))['edits.stable']).toEqual(['stable-v1']);
    const warnings = await waitFor('warning events', async () => {
      const w = (await events()).filter((e) => e.type === 'Warning');
      return w.length >= 2 && w;
    });
    expect(warnings.map((e) => e.reason).sort()).toEqual(['InvalidRefs', 'RefNotFound']);
    // fixed: generation 3 replaces it
    await env.kubectlOk(
      ['apply', '-f', '-'],
      route('stable', { match: { models: ['stable-v3'] }, backends: [{ providerRef: { name: 'primary' } }] }),
    );
    await waitFor(
      'generation 3 served',
      async () => (await renderedRoutes(env.rest))['edits.stable']?.[0] === 'stable-v3',
    );
    const fixed = await waitFor('generation 3 accepted', async () => {
      const r = await get(env.rest, pathOf('AIRoute', NS, 'stable'));
      return (
        condition(r, 'Accepted')?.status === 'True' && condition(r, 'Accepted')?.observedGeneration === 3 && r
      );
    });
    expect(condition(fixed, 'Accepted')?.reason).toBe('Accepted');
    const normal = await waitFor('recovery events', async () => {
      const n = (await events()).filter((e) => e.type === 'Normal');
      return n.length >= 2 && n;
    });
    expect(normal.map((e) => e.reason).sort()).toEqual(['Accepted', 'ResolvedRefs']);
  });

  it('kubectl get columns read well: joined models, backends, limits of a token-only policy; -o wide adds more', async () => {
    await env.kubectlOk(
      ['apply', '-f', '-'],
      route('multi', {
        match: { models: ['gpt-4o*', 'o1', 'o3', 'o4-mini', 'o5'] },
        backends: [{ providerRef: { name: 'primary' }, model: 'big' }, { providerRef: { name: 'backup' } }],
        fallback: [{ providerRef: { name: 'backup' }, model: 'small' }],
      }),
    );
    await apply(env.rest, cr('AIPolicy', 'tokens-only', NS, { tokens: [{ limit: 50000, window: 'hour' }] }));
    await waitFor('summaries written', async () => {
      const r = await get(env.rest, pathOf('AIRoute', NS, 'multi'));
      const p = await get(env.rest, pathOf('AIPolicy', NS, 'tokens-only'));
      return Boolean(r?.status?.summary?.models && p?.status?.summary?.limits);
    });
    const routes = await env.kubectlOk(['-n', NS, 'get', 'airoute', 'multi']);
    const [head = '', row = ''] = routes.trim().split('\n');
    expect(head.split(/\s{2,}/)).toEqual([
      'NAME',
      'MODELS',
      'STRATEGY',
      'BACKENDS',
      'READY',
      'PROGRAMMED',
      'AGE',
    ]);
    expect(row).toContain('gpt-4o*, o1, o3 (+2 more)');
    expect(row).toContain('primary/big, backup');
    expect(row).not.toContain('[');
    const wide = await env.kubectlOk(['-n', NS, 'get', 'airoute', 'multi', '-o', 'wide']);
    expect(wide.split('\n')[0]?.split(/\s{2,}/)).toEqual([
      'NAME',
      'MODELS',
      'STRATEGY',
      'BACKENDS',
      'READY',
      'PROGRAMMED',
      'AGE',
      'FALLBACK',
      'PRIORITY',
      'ACCEPTED',
      'REASON',
    ]);
    expect(wide).toContain('backup/small');
    const policies = await env.kubectlOk(['-n', NS, 'get', 'aipolicy', 'tokens-only']);
    expect(policies).toContain('50000 total tok/hour');
  });
});
