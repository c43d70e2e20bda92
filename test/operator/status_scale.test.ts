// Status at a few hundred objects on a real API server: Programmed is per object (a change to one
// route writes that route's status and nobody else's), status is written only when it changes,
// Events only on transitions a person acts on, and a render never waits behind status writes.
// The 2,000-route figures run in `npm run scale:operator` (docs/operator.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '../../operator/src/api/common.ts';
import type { Operator } from '../../operator/src/controller/operator.ts';
import { type SluiceEnv, startSluiceEnv } from '../envtest/sluice_env.ts';
import {
  apply,
  type ConfigMap,
  cmPath,
  condition,
  cr,
  get,
  OUT_NS,
  pathOf,
  startOperator,
  waitFor,
} from './helpers.ts';
import { SimulatedReplica } from './replicas.ts';

const NS = 'scale';
const ROUTES = 200;
let env: SluiceEnv;
let op: Operator;
const replicas: SimulatedReplica[] = [];

const routeSpec = (i: number, model = `model-${i}`) => ({
  match: { models: [model] },
  backends: [{ providerRef: { name: 'mock' } }],
});

interface EventList {
  items: Array<{ type: string; reason: string; involvedObject: { kind: string; name: string } }>;
}

async function routes(): Promise<Resource<unknown>[]> {
  const list = await env.rest.request<{ items: Resource<unknown>[] }>('GET', pathOf('AIRoute', NS));
  return list.items;
}

const allProgrammed = async () => {
  const items = await routes();
  return items.length === ROUTES && items.every((r) => condition(r, 'Programmed')?.status === 'True');
};

beforeAll(async () => {
  env = await startSluiceEnv();
  await env.namespace(OUT_NS);
  await env.namespace(NS);
  await apply(env.rest, cr('AIProvider', 'mock', NS, { type: 'mock' }));
  for (let i = 0; i < ROUTES; i += 20)
    await Promise.all(
      Array.from({ length: 20 }, (_, j) => apply(env.rest, cr('AIRoute', `r${i + j}`, NS, routeSpec(i + j)))),
    );
  // one status writer: a long status queue, which a render must not wait behind (the last test)
  op = await startOperator(env.kc, { namespaces: [NS], workers: 1 });
  for (const name of ['dp-a', 'dp-b']) {
    const r = new SimulatedReplica(env.rest, name);
    await r.start();
    replicas.push(r);
  }
  await waitFor('every route Programmed', allProgrammed, 60_000);
}, 120_000);

afterAll(async () => {
  for (const r of replicas) await r.stop().catch(() => {});
  await op?.stop();
  await env?.stop();
});

describe('status at scale', () => {
  it('a change to one route writes only its own status, a few times at most, and raises no Events', async () => {
    const eventsBefore = (await env.rest.request<EventList>('GET', `/api/v1/namespaces/${NS}/events`)).items;
    // Programmed everywhere and nothing noisy on the way: no Normal Pending/Programmed Events at all
    expect(eventsBefore.filter((e) => e.type === 'Normal')).toEqual([]);
    const before = new Map((await routes()).map((r) => [r.metadata.name, r.metadata.resourceVersion]));
    const writes = op.stats.statusWrites;

    await apply(env.rest, cr('AIRoute', 'r7', NS, routeSpec(7, 'renamed')));
    const r7 = await waitFor('r7 generation 2 Programmed', async () => {
      const r = await get(env.rest, pathOf('AIRoute', NS, 'r7'));
      const c = condition(r, 'Programmed');
      return c?.status === 'True' && c.observedGeneration === 2 && r;
    });
    expect(condition(r7, 'Programmed')?.message).toBe('every live dataplane replica serves generation 2');
    await new Promise((r) => setTimeout(r, 1_000)); // anything else queued would be written by now
    // r7 went Pending then Programmed (or straight to Programmed when the replicas were quick), and
    // perhaps Pending on one replica in between: one write per replica at most, never one per route
    expect(op.stats.statusWrites - writes).toBeGreaterThanOrEqual(1);
    expect(op.stats.statusWrites - writes).toBeLessThanOrEqual(3);
    const after = await routes();
    const touched = after.filter((r) => r.metadata.resourceVersion !== before.get(r.metadata.name));
    expect(touched.map((r) => r.metadata.name)).toEqual(['r7']);
    const eventsAfter = (await env.rest.request<EventList>('GET', `/api/v1/namespaces/${NS}/events`)).items;
    expect(eventsAfter.length).toBe(eventsBefore.length);
  });

  it('a lagging replica holds back only the routes changed since it stopped loading', async () => {
    const [a, b] = replicas as [SimulatedReplica, SimulatedReplica];
    b.pause();
    const writes = op.stats.statusWrites;
    await apply(env.rest, cr('AIRoute', 'r11', NS, routeSpec(11, 'while-b-lags')));
    const revision = await waitFor('rendered', async () => {
      const cm = await get<ConfigMap>(env.rest, cmPath);
      return cm?.data?.['config.yaml']?.includes('while-b-lags') && op.lastRevision;
    });
    // Pending, naming only the replica that lags (once dp-a's report is in)
    const expected = `generation 2 is in config revision ${revision}; waiting for dp-b (revision ${revision - 1})`;
    await waitFor('r11 Pending on dp-b', async () => {
      const c = condition(await get(env.rest, pathOf('AIRoute', NS, 'r11')), 'Programmed');
      return c?.reason === 'Pending' && c.message === expected;
    });
    expect(a.reported.at(-1)).toBe(revision);
    // every other route is in a revision dp-b serves: still Programmed, not rewritten
    expect(condition(await get(env.rest, pathOf('AIRoute', NS, 'r12')), 'Programmed')?.status).toBe('True');
    b.resume();
    await waitFor('r11 Programmed', async () => {
      const c = condition(await get(env.rest, pathOf('AIRoute', NS, 'r11')), 'Programmed');
      return c?.status === 'True' && c.observedGeneration === 2;
    });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(op.stats.statusWrites - writes).toBeLessThanOrEqual(3);
  });

  it('status is not written when nothing it shows changed (a metadata-only edit, a no-op render)', async () => {
    await new Promise((r) => setTimeout(r, 500));
    const writes = op.stats.statusWrites;
    const renders = op.stats.renders;
    await env.kubectlOk(['-n', NS, 'label', 'airoute', 'r3', 'team=blue']);
    // the same for an annotation on a provider that every route uses
    await env.kubectlOk(['-n', NS, 'annotate', 'aiprovider', 'mock', 'note=x']);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(op.stats.statusWrites).toBe(writes);
    expect(op.stats.renders).toBe(renders);
  });

  it('a render does not wait behind a queue of status writes', { timeout: 150_000 }, async () => {
    // both replicas go away: every object turns NoReplicas, ~200 status writes queue up
    const writes = op.stats.statusWrites;
    for (const r of replicas.splice(0)) await r.stop();
    await waitFor('status writes started', async () => op.stats.statusWrites > writes + 5, 30_000);
    await apply(env.rest, cr('AIRoute', 'r99', NS, routeSpec(99, 'urgent')));
    await waitFor(
      'urgent change rendered',
      async () => (await get<ConfigMap>(env.rest, cmPath))?.data?.['config.yaml']?.includes('"urgent"'),
      30_000,
    );
    const writtenWhenRendered = op.stats.statusWrites - writes;
    // the render landed while the status writes were still going on
    expect(writtenWhenRendered).toBeLessThan(ROUTES);
    // (one writer on a busy machine: give the ~200 writes their time)
    await waitFor(
      'every route NoReplicas',
      async () => (await routes()).every((r) => condition(r, 'Programmed')?.reason === 'NoReplicas'),
      90_000,
    );
  });
});
