// No churn across restarts, one writer among replicas (leader election), namespace scoping, the
// metrics/health endpoints, and the 1 MiB limit at 10,000 API keys and 1,000 routes on a real server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText, validateConfig } from '../../dataplane/src/config/load.ts';
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
  secretPath,
  startOperator,
  waitFor,
} from './helpers.ts';

let env: SluiceEnv;
const running: Operator[] = [];
const NS = 'team-r';

beforeAll(async () => {
  env = await startSluiceEnv();
  for (const ns of [OUT_NS, NS, 'ignored']) await env.namespace(ns);
  await applySecret(env.rest, NS, 'k', { apiKey: 'sk-1' });
  await apply(
    env.rest,
    cr('AIProvider', 'p', NS, { type: 'openai', credentials: { apiKeySecretRef: { name: 'k' } } }),
  );
  await apply(env.rest, cr('AIRoute', 'r', NS, { backends: [{ providerRef: { name: 'p' } }] }));
});
afterAll(async () => {
  for (const op of running) await op.stop().catch(() => {});
  await env?.stop();
});

async function track(p: Promise<Operator>): Promise<Operator> {
  const op = await p;
  running.push(op);
  return op;
}

const versions = async () => ({
  cm: (await get<ConfigMap>(env.rest, cmPath))?.metadata.resourceVersion,
  secret: (await get<ConfigMap>(env.rest, secretPath))?.metadata.resourceVersion,
  route: (await get(env.rest, pathOf('AIRoute', NS, 'r')))?.metadata.resourceVersion,
});

describe('operator lifecycle', () => {
  it('a restarted operator rewrites nothing that is unchanged (ConfigMap, Secret, status)', async () => {
    const first = await track(startOperator(env.kc, { namespaces: [NS] }));
    await waitFor(
      'status',
      async () => condition(await get(env.rest, pathOf('AIRoute', NS, 'r')), 'Accepted')?.status === 'True',
    );
    await waitFor('quiet', async () => first.stats.renders > 0 && first.stats.configMapWrites === 1);
    await first.stop();
    const before = await versions();
    const second = await track(startOperator(env.kc, { namespaces: [NS] }));
    await waitFor('second rendered', async () => second.stats.renders > 0);
    await new Promise((r) => setTimeout(r, 1_000)); // let every status key be processed
    expect(second.stats).toMatchObject({ configMapWrites: 0, secretWrites: 0, statusWrites: 0 });
    expect(await versions()).toEqual(before);
    await second.stop();
  });

  it('of two replicas only the leader writes; the standby takes over when the leader stops', async () => {
    const opts = {
      namespaces: [NS],
      leaderElect: true,
      leaseDurationSeconds: 2,
      renewDeadlineMs: 1_500,
      retryPeriodMs: 200,
    };
    const a = await track(startOperator(env.kc, { ...opts, identity: 'replica-a' }));
    const b = await track(startOperator(env.kc, { ...opts, identity: 'replica-b' }));
    const leader = await waitFor('a leader', async () => (a.isLeader ? a : b.isLeader ? b : undefined));
    const standby = leader === a ? b : a;
    await apply(
      env.rest,
      cr('AIRoute', 'r', NS, { match: { models: ['m1'] }, backends: [{ providerRef: { name: 'p' } }] }),
    );
    await waitFor(
      'leader wrote',
      async () => leader.stats.configMapWrites === 1 && leader.stats.statusWrites > 0,
    );
    expect(standby.isLeader).toBe(false);
    expect(standby.stats).toEqual({ renders: 0, configMapWrites: 0, secretWrites: 0, statusWrites: 0 });
    const lease = await get<{ spec: { holderIdentity: string } }>(
      env.rest,
      `/apis/coordination.k8s.io/v1/namespaces/${OUT_NS}/leases/sluice-operator`,
    );
    expect(lease?.spec.holderIdentity).toBe(leader.identity);

    await leader.stop(); // releases the Lease
    await waitFor('standby leads', async () => standby.isLeader, 10_000);
    await apply(
      env.rest,
      cr('AIRoute', 'r', NS, { match: { models: ['m2'] }, backends: [{ providerRef: { name: 'p' } }] }),
    );
    await waitFor('standby wrote', async () => {
      const cm = await get<ConfigMap>(env.rest, cmPath);
      const cfg = validateConfig(parseConfigText(cm?.data?.['config.yaml'] ?? '', 'c.yaml'));
      return cfg.routes[0]?.match.models?.[0] === 'm2' && standby.stats.configMapWrites === 1;
    });
    await standby.stop();
  });

  it('makes the given owner (the operator Deployment) own the rendered objects', async () => {
    const deployment = await env.rest.request<{ metadata: { uid: string } }>(
      'POST',
      `/apis/apps/v1/namespaces/${OUT_NS}/deployments`,
      {
        body: {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'sluice-operator' },
          spec: {
            selector: { matchLabels: { app: 'op' } },
            template: {
              metadata: { labels: { app: 'op' } },
              spec: { containers: [{ name: 'op', image: 'sluice-operator' }] },
            },
          },
        },
      },
    );
    const owner = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'sluice-operator',
      uid: deployment.metadata.uid,
    };
    const op = await track(startOperator(env.kc, { namespaces: [NS], owner }));
    for (const path of [cmPath, secretPath])
      await waitFor(`owner of ${path}`, async () => {
        const obj = await get<{ metadata: { ownerReferences?: Array<{ uid: string; kind: string }> } }>(
          env.rest,
          path,
        );
        return (
          obj?.metadata.ownerReferences?.[0]?.uid === owner.uid &&
          obj.metadata.ownerReferences[0].kind === 'Deployment'
        );
      });
    await op.stop();
  });

  it('watches only the configured namespaces and serves /metrics, /healthz and /readyz', async () => {
    await applySecret(env.rest, 'ignored', 'k', { apiKey: 'sk-x' });
    await apply(
      env.rest,
      cr('AIProvider', 'p', 'ignored', { type: 'openai', credentials: { apiKeySecretRef: { name: 'k' } } }),
    );
    const op = await track(
      startOperator(env.kc, { namespaces: [NS], metricsPort: 0, metricsHost: '127.0.0.1' }),
    );
    const cfg = await waitFor('rendered', async () => {
      const text = (await get<ConfigMap>(env.rest, cmPath))?.data?.['config.yaml'];
      return op.stats.renders > 0 && !!text && validateConfig(parseConfigText(text, 'c.yaml'));
    });
    expect(cfg.providers.map((p) => p.name)).toEqual(['team-r.p']);
    expect((await get(env.rest, pathOf('AIProvider', 'ignored', 'p')))?.status).toBeUndefined();
    const base = op.metricsAddress;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const text = await waitFor('render counted', async () => {
      const t = await (await fetch(`${base}/metrics`)).text();
      return /sluice_operator_reconciles_total\{controller="render",result="success"\} [1-9]/.test(t) && t;
    });
    expect(text).toMatch(/sluice_operator_reconciles_total\{controller="render",result="success"\} [1-9]/);
    expect(text).toMatch(/sluice_operator_rendered_bytes\{object="configmap"\} [1-9]/);
    expect(text).toContain('sluice_operator_reconcile_duration_seconds_bucket');
    await op.stop();
    expect((await fetch(`${base}/healthz`).catch(() => undefined))?.status).toBeUndefined();
  });

  it('writes 1,000 routes and 10,000 API keys within the 1 MiB object limit', {
    timeout: 180_000,
  }, async () => {
    const keys: Record<string, string> = {};
    for (let i = 0; i < 10_000; i++) keys[`k${i}`] = `sk-sluice-${i}-${(i * 2654435761) % 1e9}`;
    await applySecret(env.rest, NS, 'many-keys', keys);
    await apply(
      env.rest,
      cr('AINamespace', 'big', NS, { match: { apiKeys: { secretRefs: [{ name: 'many-keys' }] } } }),
    );
    const routes = Array.from({ length: 1_000 }, (_, i) =>
      cr('AIRoute', `r${i}`, NS, {
        match: { models: [`m-${i}`], headers: [{ name: 'X-Channel-Code', equals: `c${i}` }] },
        backends: [{ providerRef: { name: 'p' } }],
      }),
    );
    for (let i = 0; i < routes.length; i += 50)
      await Promise.all(routes.slice(i, i + 50).map((r) => apply(env.rest, r)));
    const op = await track(startOperator(env.kc, { namespaces: [NS] }));
    const cfg = await waitFor(
      'big config',
      async () => {
        const cm = await get<ConfigMap>(env.rest, cmPath);
        const c = validateConfig(parseConfigText(cm?.data?.['config.yaml'] ?? '', 'c.yaml'));
        return c.routes.length === 1_001 && c.namespaces.length === 1 && c;
      },
      150_000,
    );
    expect(cfg.routes).toHaveLength(1_001);
    const secret = await get<{ data: Record<string, string> }>(env.rest, secretPath);
    const stored = Buffer.from(
      secret?.data['ainamespace.team-r.big.apikeys.json'] ?? '',
      'base64',
    ).toString();
    expect(stored.startsWith('# sluice:gzip+base64\n')).toBe(true);
    await op.stop();
  });
});
