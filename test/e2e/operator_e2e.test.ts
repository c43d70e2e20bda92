// End to end: a real kube-apiserver, the operator and two dataplane replicas as separate processes.
// Each replica reads the rendered ConfigMap and Secret through its own kubelet-style volume folder
// and reports its loaded config in a Lease. Traffic flows through the openai SDK while AIRoutes are
// applied and changed with kubectl; we measure apply -> every replica serving the change, and count
// failed requests (there must be none).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type SluiceEnv, startSluiceEnv } from '../envtest/sluice_env.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { type DataplaneProcess, NODE_BIN, REPO_ROOT, spawnDataplane } from '../helpers/dataplane.ts';
import { condition, get, OUT_NS, pathOf, waitFor } from '../operator/helpers.ts';
import { VolumeSyncer } from './kubelet_sync.ts';

const NS = 'e2e';
const CHANGES = 12;
let env: SluiceEnv;
let upstream: FakeOpenAI;
let operator: ChildProcess | undefined;
const operatorLogs: string[] = [];
const replicas: DataplaneProcess[] = [];
const syncers: VolumeSyncer[] = [];
let work: string;

const route = (models: string[]) => ({
  apiVersion: 'gateway.sluice.dev/v1alpha1',
  kind: 'AIRoute',
  metadata: { name: 'chat', namespace: NS },
  spec: {
    match: { models },
    backends: [{ providerRef: { name: 'upstream' } }],
    fallback: [{ providerRef: { name: 'backup' } }],
  },
});

async function startOperatorProcess(): Promise<void> {
  const child = spawn(
    NODE_BIN,
    [
      join(REPO_ROOT, 'bin/sluice.js'),
      'operator',
      '--kubeconfig',
      env.cp.kubeconfigPath,
      '--namespaces',
      NS,
      '--output-namespace',
      OUT_NS,
      '--secrets-dir',
      '../secrets',
      // Secrets are read by name and polled for changes; the rotation below is followed within this
      '--secret-refresh',
      '500ms',
      '--metrics-port',
      '0',
      '--metrics-host',
      '127.0.0.1',
      '--leader-elect',
    ],
    { cwd: REPO_ROOT, env: { ...process.env, SLUICE_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  operator = child;
  child.stdout?.on('data', (d: Buffer) => operatorLogs.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => operatorLogs.push(d.toString()));
  await waitFor(
    'operator started',
    async () => operatorLogs.join('').includes('sluice operator started'),
    30_000,
  );
}

beforeAll(async () => {
  env = await startSluiceEnv();
  await env.namespace(OUT_NS);
  await env.namespace(NS);
  // no fixed key: the test reads the Authorization header the upstream receives (to follow rotations)
  upstream = await startFakeOpenAI({ name: 'upstream' });
  work = mkdtempSync(join(tmpdir(), 'sluice-e2e-'));
  const manifests = [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'upstream-key', namespace: NS },
      stringData: { apiKey: 'sk-e2e-upstream' },
    },
    {
      apiVersion: 'gateway.sluice.dev/v1alpha1',
      kind: 'AIProvider',
      metadata: { name: 'upstream', namespace: NS },
      spec: {
        type: 'openai',
        baseUrl: upstream.url,
        credentials: { apiKeySecretRef: { name: 'upstream-key' } },
      },
    },
    {
      apiVersion: 'gateway.sluice.dev/v1alpha1',
      kind: 'AIProvider',
      metadata: { name: 'backup', namespace: NS },
      spec: { type: 'mock', mock: { outputTokens: 4 } },
    },
    route(['e2e-model']),
    // a tenant keyed by API keys from a Secret, with a policy: clients must present a key
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'client-keys', namespace: NS },
      stringData: { alice: 'sk-client-alice' },
    },
    {
      apiVersion: 'gateway.sluice.dev/v1alpha1',
      kind: 'AIPolicy',
      metadata: { name: 'team-limits', namespace: NS },
      spec: { requests: { limit: 1000, window: 'second' }, maxOutputTokens: { limit: 512 } },
    },
    {
      apiVersion: 'gateway.sluice.dev/v1alpha1',
      kind: 'AINamespace',
      metadata: { name: 'team', namespace: NS },
      spec: { match: { apiKeys: { secretRefs: [{ name: 'client-keys' }] } }, policies: ['team-limits'] },
    },
  ];
  await env.kubectlOk(
    ['apply', '--server-side', '-f', '-'],
    manifests.map((m) => stringify(m)).join('---\n'),
  );
  await startOperatorProcess();
  for (const i of [0, 1]) {
    const dir = join(work, `dp-${i}`);
    const cm = new VolumeSyncer(env.kc, env.rest, 'configmaps', OUT_NS, 'sluice-config', join(dir, 'config'));
    const sec = new VolumeSyncer(env.kc, env.rest, 'secrets', OUT_NS, 'sluice-secrets', join(dir, 'secrets'));
    syncers.push(cm, sec);
    await Promise.all([cm.start(), sec.start()]);
    await Promise.all([cm.ready, sec.ready]);
    replicas.push(
      await spawnDataplane(join(dir, 'config', 'config.yaml'), {
        SLUICE_REPORT_LEASE: '1',
        POD_NAME: `dataplane-${i}`,
        POD_NAMESPACE: OUT_NS,
        KUBECONFIG: env.cp.kubeconfigPath,
      }),
    );
  }
}, 180_000);

afterAll(async () => {
  for (const r of replicas) await r.stop().catch(() => {});
  for (const s of syncers) await s.stop().catch(() => {});
  if (operator && operator.exitCode === null) {
    operator.kill('SIGTERM');
    await new Promise((r) => operator?.once('exit', r));
  }
  await upstream?.close();
  await env?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

describe('operator + two dataplane processes', () => {
  it('serves every change on every replica quickly, with zero failed requests, and reports Programmed', {
    timeout: 240_000,
  }, async () => {
    const clients = replicas.map(
      (r) => new OpenAI({ baseURL: r.baseURL, apiKey: 'sk-client-alice', maxRetries: 0, timeout: 10_000 }),
    );
    // steady traffic on the existing model while routes change underneath
    let stop = false;
    const stats = { ok: 0, failed: 0, errors: [] as string[] };
    const traffic = async (n: number) => {
      for (let i = 0; !stop && i < 100_000; i++) {
        const client = clients[(i + n) % clients.length] as OpenAI;
        try {
          if (i % 3 === 0) {
            const stream = await client.chat.completions.create({
              model: 'e2e-model',
              messages: [{ role: 'user', content: `hi ${i}` }],
              stream: true,
            });
            let text = '';
            for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
            if (!text) throw new Error('empty stream');
          } else {
            const r = await client.chat.completions.create({
              model: 'e2e-model',
              messages: [{ role: 'user', content: `hi ${i}` }],
            });
            if (!r.choices[0]?.message.content) throw new Error('empty answer');
          }
          stats.ok++;
        } catch (err) {
          stats.failed++;
          stats.errors.push(String(err));
        }
        await new Promise((r) => setTimeout(r, 15));
      }
    };
    const loops = [traffic(0), traffic(1)];

    const latencies: number[] = [];
    const models = ['e2e-model'];
    for (let i = 0; i < CHANGES; i++) {
      const model = `e2e-new-${i}`;
      models.push(model);
      const t0 = performance.now();
      await env.kubectlOk(['apply', '--server-side', '-f', '-'], stringify(route(models)));
      await Promise.all(
        clients.map((c) =>
          waitFor(
            `${model} served`,
            async () => {
              try {
                await c.chat.completions.create({ model, messages: [{ role: 'user', content: 'new?' }] });
                return true;
              } catch {
                return false;
              }
            },
            10_000,
          ),
        ),
      );
      latencies.push(performance.now() - t0);
    }
    stop = true;
    await Promise.all(loops);

    const sorted = [...latencies].sort((a, b) => a - b);
    const summary = {
      changes: CHANGES,
      p50Ms: Math.round(percentile(sorted, 50)),
      p99Ms: Math.round(percentile(sorted, 99)),
      maxMs: Math.round(sorted.at(-1) ?? 0),
      requests: stats.ok,
      failed: stats.failed,
    };
    console.log(`apply -> every replica serving: ${JSON.stringify(summary)}`);
    expect(stats.errors).toEqual([]);
    expect(stats.ok).toBeGreaterThan(50);
    expect(summary.p99Ms).toBeLessThan(2_000);
    expect(upstream.requests.filter((r) => r.path.endsWith('/chat/completions')).length).toBeGreaterThan(0);

    // an unknown key is refused by every replica (the tenant's keys are hashes from its Secret)
    for (const r of replicas) {
      const stranger = new OpenAI({ baseURL: r.baseURL, apiKey: 'sk-nobody', maxRetries: 0 });
      await expect(
        stranger.chat.completions.create({ model: 'e2e-model', messages: [{ role: 'user', content: 'x' }] }),
      ).rejects.toMatchObject({ status: 401 });
    }
    // a key added to the tenant's Secret is accepted everywhere; a rotated provider key reaches upstream
    await env.kubectlOk(
      ['apply', '--server-side', '-f', '-'],
      stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'client-keys', namespace: NS },
        stringData: { alice: 'sk-client-alice', bob: 'sk-client-bob' },
      }),
    );
    await env.kubectlOk(
      ['apply', '--server-side', '-f', '-'],
      stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'upstream-key', namespace: NS },
        stringData: { apiKey: 'sk-e2e-rotated' },
      }),
    );
    for (const r of replicas) {
      const bob = new OpenAI({ baseURL: r.baseURL, apiKey: 'sk-client-bob', maxRetries: 0 });
      await waitFor(
        'bob accepted',
        async () => {
          try {
            await bob.chat.completions.create({
              model: 'e2e-model',
              messages: [{ role: 'user', content: 'x' }],
            });
            return true;
          } catch {
            return false;
          }
        },
        15_000,
      );
      const seen = upstream.requests.length;
      await waitFor(
        'rotated upstream key',
        async () => {
          await clients[replicas.indexOf(r)]?.chat.completions.create({
            model: 'e2e-model',
            messages: [{ role: 'user', content: 'x' }],
          });
          return upstream.requests
            .slice(seen)
            .some((q) => q.headers.authorization === 'Bearer sk-e2e-rotated');
        },
        15_000,
      );
    }
    expect(upstream.requests[0]?.headers.authorization).toBe('Bearer sk-e2e-upstream');

    // both replicas report the last rendered config in their Leases: Programmed=True
    const r = await waitFor(
      'Programmed',
      async () => {
        const obj = await get(env.rest, pathOf('AIRoute', NS, 'chat'));
        return condition(obj, 'Programmed')?.status === 'True' && obj;
      },
      20_000,
    );
    expect(condition(r, 'Programmed')?.message).toBe(
      `every live dataplane replica serves generation ${r.metadata.generation}`,
    );
    expect(condition(r, 'Ready')?.status).toBe('True');
  });

  it('the operator process stops gracefully on SIGTERM and releases its leader Lease', async () => {
    const lease = () =>
      get<{ spec: { holderIdentity?: string } }>(
        env.rest,
        `/apis/coordination.k8s.io/v1/namespaces/${OUT_NS}/leases/sluice-operator`,
      );
    expect((await lease())?.spec.holderIdentity).toBeTruthy();
    const child = operator as ChildProcess;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect((await lease())?.spec.holderIdentity ?? '').toBe('');
  });
});
