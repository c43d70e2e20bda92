// The operator against a real kube-apiserver that restarts, and against watches that expire (410 Gone)
// while the operator is cut off: it stays up and healthy, relists, converges to what changed, and
// does not rewrite the ConfigMap or Secret when their content did not change.
//
// The operator reaches the API server through a loopback TCP proxy, so the test can cut the operator
// off while it keeps its own access. Etcd compaction (and a bumped revision) make sure the
// resourceVersion the operator resumes from is gone when it comes back.
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Operator } from '../../operator/src/controller/operator.ts';
import {
  bumpEtcdRevision,
  compactEtcd,
  kubeConfigVia,
  restartApiServer,
  startTcpProxy,
  type TcpProxy,
} from '../envtest/apiserver_faults.ts';
import { type SluiceEnv, startSluiceEnv } from '../envtest/sluice_env.ts';
import {
  capturingLogger,
  health,
  outputVersions,
  RESOURCES,
  renderedRoutes,
  scrape,
  sleep,
} from './fault_helpers.ts';
import {
  apply,
  applySecret,
  condition,
  cr,
  get,
  OUT_NS,
  pathOf,
  remove,
  startOperator,
  waitFor,
} from './helpers.ts';

const NS = 'team-f';
let env: SluiceEnv;
let proxy: TcpProxy;
let viaProxy: KubeConfig;
const running: Operator[] = [];

const route = (name: string, models: string[]) =>
  cr('AIRoute', name, NS, { match: { models }, backends: [{ providerRef: { name: 'p' } }] });

beforeAll(async () => {
  env = await startSluiceEnv();
  for (const ns of [OUT_NS, NS]) await env.namespace(ns);
  await applySecret(env.rest, NS, 'k', { apiKey: 'sk-faults' });
  await apply(
    env.rest,
    cr('AIProvider', 'p', NS, { type: 'openai', credentials: { apiKeySecretRef: { name: 'k' } } }),
  );
  await apply(env.rest, route('r', ['m0']));
  await apply(env.rest, route('extra', ['x0']));
  proxy = await startTcpProxy(Number(new URL(env.cp.server).port));
  viaProxy = kubeConfigVia(env.kc, proxy.url);
});
afterAll(async () => {
  for (const op of running) await op.stop().catch(() => {});
  await proxy?.close();
  await env?.stop();
});

async function operatorViaProxy(): Promise<{
  op: Operator;
  lines: ReturnType<typeof capturingLogger>['lines'];
}> {
  const { log, lines } = capturingLogger();
  const op = await startOperator(viaProxy, {
    namespaces: [NS],
    metricsPort: 0,
    metricsHost: '127.0.0.1',
    log,
  });
  running.push(op);
  return { op, lines };
}

/** Rendered, statuses written, and nothing left in the queue for a moment. */
async function settled(op: Operator): Promise<void> {
  await waitFor('rendered', async () => op.stats.renders > 0 && (await renderedRoutes(env.rest))[`${NS}.r`]);
  await waitFor(
    'route accepted',
    async () => condition(await get(env.rest, pathOf('AIRoute', NS, 'r')), 'Accepted')?.status === 'True',
  );
  let last = JSON.stringify(op.stats);
  await waitFor('quiet', async () => {
    await sleep(500);
    const now = JSON.stringify(op.stats);
    const quiet = now === last;
    last = now;
    return quiet;
  });
}

describe('operator vs. API server faults', () => {
  it('survives the API server restarting: stays healthy, relists after 410, rewrites nothing, then converges', async () => {
    const { op, lines } = await operatorViaProxy();
    await settled(op);
    const before = await outputVersions(env.rest);
    const stats = { ...op.stats };
    expect(stats.configMapWrites + stats.secretWrites).toBeGreaterThan(0); // it did write the first time

    await restartApiServer(env.cp, {
      whileDown: async () => {
        const down = Date.now();
        // down for about 4 s: the process and its endpoints stay up, the caches stay served
        for (let i = 0; i < 8; i++) {
          expect(await health(op, '/healthz')).toBe(200);
          expect(await health(op, '/readyz')).toBe(200);
          await sleep(500);
        }
        expect(op.isLeader).toBe(true);
        // each watch retries with exponential backoff from 0.5 s (0, 0.5, 1.5, 3.5 s ...), not in a loop
        const bound = 2 + Math.log2((Date.now() - down) / 500);
        for (const r of RESOURCES) {
          const n = await scrape(op, 'sluice_operator_watch_restarts_total', r);
          expect(n).toBeGreaterThanOrEqual(1);
          expect(n).toBeLessThanOrEqual(bound);
        }
        // every resourceVersion the informers hold is now older than the restarted watch cache
        await bumpEtcdRevision(env.cp);
        await compactEtcd(env.cp);
      },
    });
    // each informer's re-watch gets 410 Gone and lists again (bounded by the watch restart backoff)
    await waitFor(
      'every informer relisted',
      async () => {
        for (const r of RESOURCES)
          if ((await scrape(op, 'sluice_operator_informer_relists_total', r)) < 1) return false;
        return true;
      },
      45_000,
    );
    for (const r of RESOURCES)
      expect(lines.some((l) => l.informer === r && l.msg === 'watch expired (410 Gone); relisting')).toBe(
        true,
      );
    await sleep(1_000); // time for any (wrong) render a relist might have queued
    expect(op.stats).toEqual(stats);
    expect(await outputVersions(env.rest)).toEqual(before);
    expect(await scrape(op, 'sluice_operator_output_writes_total')).toBe(
      stats.configMapWrites + stats.secretWrites,
    );

    // a change after the restart is rendered; the Secret, whose content did not change, is not rewritten
    await apply(env.rest, route('r', ['m1']));
    await waitFor(
      'm1 rendered',
      async () => (await renderedRoutes(env.rest))[`${NS}.r`]?.[0] === 'm1',
      20_000,
    );
    const after = await outputVersions(env.rest);
    expect(after.secret).toBe(before.secret);
    expect(after.cm).not.toBe(before.cm);
    expect(op.stats.configMapWrites).toBe(stats.configMapWrites + 1);
    expect(op.stats.secretWrites).toBe(stats.secretWrites);
    await op.stop();
  }, 90_000);

  it('a watch that expires while the operator is cut off relists and converges to what changed meanwhile', async () => {
    const { op, lines } = await operatorViaProxy();
    await settled(op);
    expect(op.stats).toMatchObject({ configMapWrites: 0, secretWrites: 0 }); // a fresh replica, nothing new
    const before = await outputVersions(env.rest);
    const relisted = async () => scrape(op, 'sluice_operator_informer_relists_total', 'airoutes');
    expect(await relisted()).toBe(0);
    const renders = op.stats.renders;

    proxy.cut();
    // changed while the operator cannot see it: one route edited, one deleted
    await apply(env.rest, route('r', ['m2']));
    await remove(env.rest, pathOf('AIRoute', NS, 'extra'));
    await sleep(1_000);
    expect(op.stats.renders).toBe(renders);
    expect((await renderedRoutes(env.rest))[`${NS}.extra`]).toEqual(['x0']); // still the old output
    // the watch cache restarts at the current revision and etcd forgets the older ones
    await restartApiServer(env.cp, { whileDown: async () => void (await compactEtcd(env.cp)) });
    proxy.restore();

    const routes = await waitFor(
      'converged',
      async () => {
        const r = await renderedRoutes(env.rest);
        return r[`${NS}.r`]?.[0] === 'm2' && !r[`${NS}.extra`] && r;
      },
      45_000,
    );
    expect(Object.keys(routes)).toEqual([`${NS}.r`]);
    expect(await relisted()).toBeGreaterThanOrEqual(1);
    expect(
      lines.some((l) => l.informer === 'airoutes' && l.msg === 'watch expired (410 Gone); relisting'),
    ).toBe(true);
    // the status of the deleted route is gone with it; the edited one is accepted at its new generation
    const r = await waitFor('status of the new generation', async () => {
      const obj = await get(env.rest, pathOf('AIRoute', NS, 'r'));
      return condition(obj, 'Accepted')?.observedGeneration === obj?.metadata.generation && obj;
    });
    expect(condition(r, 'Accepted')?.status).toBe('True');
    // one ConfigMap write for both changes; the Secret did not change, so it is not rewritten
    await sleep(1_000);
    expect(op.stats.configMapWrites).toBe(1);
    expect(op.stats.secretWrites).toBe(0);
    expect((await outputVersions(env.rest)).secret).toBe(before.secret);
    await op.stop();
  }, 90_000);
});
