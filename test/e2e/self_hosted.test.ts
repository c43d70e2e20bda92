// Self-hosted models on Kubernetes, end to end on a real kube-apiserver: a Service whose EndpointSlices
// (written here the way the EndpointSlice controller writes them: one slice per distinct pod port of
// a named targetPort) point at fake vLLM pods on 127.0.0.1, the operator, and two `sluice serve`
// processes that watch the slices with a service account allowed nothing but get/list/watch on
// EndpointSlices in the model namespace. Under ~200 req/s: pods added and removed lose no request, a
// failing pod is ejected while the others serve, a pod reporting a long queue gets fewer new requests,
// and `suspended: true` on the AIProvider moves every replica's traffic to the fallback within 1 s.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { APPLY_PATCH, MERGE_PATCH } from '../../kube/kube_rest.ts';
import type { Operator } from '../../operator/src/controller/operator.ts';
import { type SluiceEnv, startSluiceEnv } from '../envtest/sluice_env.ts';
import { type FakeVllm, startFakeVllm } from '../fakes/vllm.ts';
import { type DataplaneProcess, spawnDataplane } from '../helpers/dataplane.ts';
import { condition, get, OUT_NS, pathOf, startOperator, waitFor } from '../operator/helpers.ts';
import { VolumeSyncer } from './kubelet_sync.ts';

const NS = 'models';
const MODEL = 'llama-3-8b';
const KEY = 'sk-self-hosted-client';
const SLICES = `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`;
let env: SluiceEnv;
let operator: Operator | undefined;
let work: string;
const pods: FakeVllm[] = [];
const replicas: DataplaneProcess[] = [];
const syncers: VolumeSyncer[] = [];

/**
 * One pod's EndpointSlice, shaped as the EndpointSlice controller writes it (service-name and
 * managed-by labels, one slice per pod port of a named targetPort, conditions, targetRef), except
 * for one thing: the API server refuses loopback addresses in IPv4 slices ("may not be in the
 * loopback range") and test servers bind 127.0.0.1 only, so the address goes in as addressType FQDN
 * "127.0.0.1" (a valid two-label name to the API server). The IPv4/IPv6 paths are covered by
 * dataplane/src/proxy/endpoints.test.ts.
 */
function slice(pod: FakeVllm, ready = true) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `llama-${pod.name}`,
      namespace: NS,
      labels: {
        'kubernetes.io/service-name': 'llama',
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
      },
    },
    addressType: 'FQDN',
    ports: [{ name: 'http', port: pod.port, protocol: 'TCP' }],
    endpoints: [
      {
        addresses: ['127.0.0.1'],
        conditions: { ready, serving: ready, terminating: !ready },
        targetRef: { kind: 'Pod', namespace: NS, name: `llama-${pod.name}` },
      },
    ],
  };
}

const provider = (extra: Record<string, unknown> = {}) => ({
  apiVersion: 'gateway.sluice.dev/v1alpha1',
  kind: 'AIProvider',
  metadata: { name: 'llama', namespace: NS },
  spec: {
    type: 'vllm',
    service: { name: 'llama', portName: 'http' },
    endpointPicking: { picker: 'least-load', loadMetrics: { interval: '200ms', timeout: '300ms' } },
    circuitBreaker: { consecutiveFailures: 3, baseEjection: '60s' },
    models: [{ name: MODEL }],
    ...extra,
  },
});

/** Write a slice the way a controller does (server-side apply), timed without kubectl's start-up. */
async function putSlice(obj: ReturnType<typeof slice>): Promise<void> {
  await env.rest.request('PATCH', `${SLICES}/${obj.metadata.name}`, {
    query: { fieldManager: 'endpointslice-controller.k8s.io', force: 'true' },
    body: obj,
    contentType: APPLY_PATCH,
  });
}

async function applyAll(objs: unknown[]): Promise<void> {
  await env.kubectlOk(['apply', '--server-side', '-f', '-'], objs.map((o) => stringify(o)).join('---\n'));
}

/** A service-account kubeconfig for the dataplane: it may only read EndpointSlices in NS. */
async function dataplaneKubeconfig(): Promise<string> {
  await applyAll([
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sluice-dataplane', namespace: OUT_NS } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'sluice-dataplane-endpoints', namespace: NS },
      rules: [
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'sluice-dataplane-endpoints', namespace: NS },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'sluice-dataplane-endpoints' },
      subjects: [{ kind: 'ServiceAccount', name: 'sluice-dataplane', namespace: OUT_NS }],
    },
  ]);
  const token = (await env.kubectlOk(['create', 'token', 'sluice-dataplane', '-n', OUT_NS])).trim();
  const file = join(work, 'dataplane-kubeconfig');
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'envtest',
          cluster: {
            server: env.cp.server,
            'certificate-authority-data': Buffer.from(env.cp.caPem).toString('base64'),
          },
        },
      ],
      users: [{ name: 'dataplane', user: { token } }],
      contexts: [{ name: 'dp', context: { cluster: 'envtest', user: 'dataplane' } }],
      'current-context': 'dp',
    }),
    { mode: 0o600 },
  );
  return file;
}

interface Result {
  pod: string | undefined;
  error?: string;
}

/** One keep-alive pool per replica: undici's request costs the test process less CPU than fetch. */
const clients = new Map<DataplaneProcess, Pool>();

async function ask(replica: DataplaneProcess, content: string): Promise<Result> {
  let client = clients.get(replica);
  if (!client) {
    client = new Pool(replica.url, { connections: 64 });
    clients.set(replica, client);
  }
  try {
    const res = await client.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content }] }),
      // generous: a CPU-starved CI machine is slow, a lost request never answers
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) return { pod: undefined, error: `${res.statusCode} ${text.slice(0, 300)}` };
    const answer = (JSON.parse(text) as { choices: Array<{ message: { content: string } }> }).choices[0]
      ?.message.content;
    return { pod: /^\[(p\d)\]/.exec(answer ?? '')?.[1] ?? 'other' };
  } catch (err) {
    return { pod: undefined, error: String(err) };
  }
}

/** Open-loop load: `rate` requests per second spread over both replicas for `ms`. */
async function load(rate: number, ms: number, during?: (elapsed: () => number) => Promise<void>) {
  /** at: when the request was sent; done: when its answer came back (ms since the load started) */
  const results: Array<Result & { at: number; done: number }> = [];
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  const elapsed = () => performance.now() - t0;
  let stop = false;
  const driver = (async () => {
    for (let i = 0; !stop && i < rate * 120; i++) {
      const due = (i * 1000) / rate;
      const wait = due - elapsed();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (elapsed() > ms) break;
      const at = elapsed();
      const replica = replicas[i % replicas.length] as DataplaneProcess;
      pending.push(
        ask(replica, `question ${i}`).then((r) => void results.push({ ...r, at, done: elapsed() })),
      );
    }
  })();
  if (during) await during(elapsed);
  await driver;
  stop = true;
  await Promise.all(pending);
  return results;
}

const servedBy = (results: Result[], pod: string) => results.filter((r) => r.pod === pod).length;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'sluice-self-hosted-'));
  env = await startSluiceEnv();
  await env.namespace(OUT_NS);
  await env.namespace(NS);
  for (let i = 0; i < 4; i++) pods.push(await startFakeVllm(`p${i}`, MODEL));
  await applyAll([
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'llama', namespace: NS },
      spec: { selector: { app: 'llama' }, ports: [{ name: 'http', port: 8000, targetPort: 'http' }] },
    },
    // three pods serving; p3 joins later
    ...pods.slice(0, 3).map((p) => slice(p)),
    provider(),
    {
      apiVersion: 'gateway.sluice.dev/v1alpha1',
      kind: 'AIProvider',
      metadata: { name: 'backup', namespace: NS },
      spec: { type: 'mock', mock: { outputTokens: 4, text: 'from the backup' } },
    },
    {
      apiVersion: 'gateway.sluice.dev/v1alpha1',
      kind: 'AIRoute',
      metadata: { name: 'chat', namespace: NS },
      spec: {
        match: { models: [MODEL] },
        backends: [{ providerRef: { name: 'llama' } }],
        fallback: [{ providerRef: { name: 'backup' } }],
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'client-keys', namespace: NS },
      stringData: { app: KEY },
    },
    {
      apiVersion: 'gateway.sluice.dev/v1alpha1',
      kind: 'AINamespace',
      metadata: { name: 'apps', namespace: NS },
      spec: { match: { apiKeys: { secretRefs: [{ name: 'client-keys' }] } } },
    },
  ]);
  const kubeconfig = await dataplaneKubeconfig();
  operator = await startOperator(env.kc, { namespaces: [NS], secretsDir: '../secrets' });
  for (const i of [0, 1]) {
    const dir = join(work, `dp-${i}`);
    const cm = new VolumeSyncer(env.kc, env.rest, 'configmaps', OUT_NS, 'sluice-config', join(dir, 'config'));
    const sec = new VolumeSyncer(env.kc, env.rest, 'secrets', OUT_NS, 'sluice-secrets', join(dir, 'secrets'));
    syncers.push(cm, sec);
    await Promise.all([cm.start(), sec.start()]);
    await Promise.all([cm.ready, sec.ready]);
    replicas.push(
      await spawnDataplane(join(dir, 'config', 'config.yaml'), {
        KUBECONFIG: kubeconfig,
        SLUICE_LOG_LEVEL: 'info',
      }),
    );
  }
  // both replicas found the three pods
  for (const r of replicas)
    await waitFor(
      'replica serves from the pods',
      async () => (await ask(r, 'warm up')).pod?.startsWith('p'),
      20_000,
    );
}, 240_000);

afterAll(async () => {
  for (const c of clients.values()) await c.close();
  for (const r of replicas) await r.stop().catch(() => {});
  for (const s of syncers) await s.stop().catch(() => {});
  await operator?.stop();
  for (const p of pods) await p.close();
  await env?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('self-hosted models behind a Service, two replicas', () => {
  it('pods added and removed under ~200 req/s: no request lost, the new pod serves within a second', {
    timeout: 60_000,
  }, async () => {
    const [p0, , , p3] = pods as [FakeVllm, FakeVllm, FakeVllm, FakeVllm];
    let addStart = 0;
    let addedAt = 0;
    let removedAt = 0;
    const results = await load(200, 6_000, async (elapsed) => {
      await new Promise((r) => setTimeout(r, 1_000));
      addStart = elapsed();
      await putSlice(slice(p3));
      addedAt = elapsed();
      await new Promise((r) => setTimeout(r, 1_500));
      // p0 terminates: the controller marks it not ready, then drops it; the pod exits a second later
      await putSlice(slice(p0, false));
      removedAt = elapsed();
      await new Promise((r) => setTimeout(r, 1_000));
      await env.rest.request('DELETE', `${SLICES}/llama-${p0.name}`);
      await new Promise((r) => setTimeout(r, 1_000));
      await p0.close();
    });
    const failed = results.filter((r) => r.error);
    expect(failed.map((r) => r.error)).toEqual([]);
    expect(results.length).toBeGreaterThan(1_000);
    expect(servedBy(results, 'other')).toBe(0); // every answer came from a pod, none from the fallback
    const onP3 = results.filter((r) => r.pod === 'p3').map((r) => r.done);
    expect(Math.min(...onP3)).toBeGreaterThan(addStart); // nothing reached p3 before its slice existed
    const firstOnP3 = Math.min(...onP3);
    expect(firstOnP3 - addedAt).toBeLessThan(1_000);
    const lateOnP0 = results.filter((r) => r.pod === 'p0' && r.at > removedAt + 1_000).length;
    expect(lateOnP0).toBe(0);
    for (const p of pods) expect(p.invalid).toEqual([]);
    console.log(
      `membership: ${results.length} requests, 0 failed; p3 first served ${Math.round(firstOnP3 - addedAt)} ms after its slice`,
    );
  });

  it('a pod that starts failing is ejected on each replica while its siblings serve', {
    timeout: 30_000,
  }, async () => {
    const p1 = pods[1] as FakeVllm;
    p1.failWith = 500;
    const received = p1.received;
    let afterOneSecond = -1;
    const results = await load(100, 3_000, async () => {
      await new Promise((r) => setTimeout(r, 1_000));
      afterOneSecond = p1.received;
    });
    expect(results.filter((r) => r.error).map((r) => r.error)).toEqual([]);
    // without ejection it would get a third of ~300 requests. Ejected: 3 consecutive failures per
    // replica, plus what was already on its way when the third came back (a busy machine bunches the
    // load's sends: 7 arrived once in a full suite), and nothing at all once both replicas ejected it
    expect(p1.received - received).toBeLessThanOrEqual(2 * 3 + 4);
    expect(p1.received - received).toBeGreaterThan(0);
    expect(p1.received).toBe(afterOneSecond);
    // each replica ejects it after 3 consecutive failures (retried on a sibling): it then sees no more
    expect(servedBy(results, 'p2') + servedBy(results, 'p3')).toBe(results.length);
    const metrics = await (await fetch(`${replicas[0]?.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/sluice_provider_endpoints\{provider="models\.llama",state="ejected"\} 1/);
    p1.failWith = undefined; // stays ejected for its 60 s ejection time
  });

  it('a pod reporting a long queue receives measurably fewer new requests', { timeout: 30_000 }, async () => {
    const [, , p2, p3] = pods as [FakeVllm, FakeVllm, FakeVllm, FakeVllm];
    for (const p of [p2, p3]) p.delayMs = 40;
    const before = await load(100, 2_000);
    const shareBefore = servedBy(before, 'p2') / before.length;
    p2.waiting = 30;
    await new Promise((r) => setTimeout(r, 600)); // a few 200 ms scrapes
    const after = await load(100, 3_000);
    const shareAfter = servedBy(after, 'p2') / after.length;
    for (const p of [p2, p3]) p.delayMs = 0;
    p2.waiting = 0;
    console.log(
      `long queue: p2's share of new requests ${(100 * shareBefore).toFixed(1)}% -> ${(100 * shareAfter).toFixed(1)}% (p3 the rest)`,
    );
    expect(after.filter((r) => r.error)).toEqual([]);
    expect(shareBefore).toBeGreaterThan(0.3);
    expect(shareAfter).toBeLessThan(shareBefore / 4);
  });

  it('suspended: true on the AIProvider moves every replica to the fallback within 1 s, and back', {
    timeout: 60_000,
  }, async () => {
    const moved = async (toBackup: boolean) => {
      const t0 = performance.now();
      await Promise.all(
        replicas.map((r) =>
          waitFor(
            'traffic moved',
            async () => {
              const res = await ask(r, 'where are you?');
              return toBackup ? res.pod === 'other' : res.pod?.startsWith('p');
            },
            10_000,
          ),
        ),
      );
      return performance.now() - t0;
    };
    // the same merge patch `kubectl patch --type=merge` sends, timed from the request (not kubectl's start)
    const suspend = (on: boolean) =>
      env.rest.request('PATCH', pathOf('AIProvider', NS, 'llama'), {
        body: { spec: { suspended: on } },
        contentType: MERGE_PATCH,
      });
    const t0 = performance.now();
    await suspend(true);
    const patchMs = performance.now() - t0;
    const suspendMs = (await moved(true)) + patchMs;
    const obj = await waitFor(
      'Suspended condition',
      async () => {
        const o = await get(env.rest, pathOf('AIProvider', NS, 'llama'));
        return condition(o, 'Suspended')?.status === 'True' && o;
      },
      10_000,
    );
    expect(condition(obj, 'Suspended')?.message).toMatch(/fallback chain/);
    const metrics = await (await fetch(`${replicas[1]?.adminUrl}/metrics`)).text();
    expect(metrics).toContain('sluice_backend_suspended{route="models.chat",provider="models.llama"} 1');
    await suspend(false);
    const resumeMs = await moved(false);
    console.log(
      `suspend: every replica on the fallback ${Math.round(suspendMs)} ms after kubectl patch; back ${Math.round(resumeMs)} ms`,
    );
    expect(suspendMs).toBeLessThan(1_000);
  });

  it('with the API server gone the last known pods keep serving; after it returns, changes flow again', {
    timeout: 120_000,
  }, async () => {
    const p4 = await startFakeVllm('p4', MODEL);
    pods.push(p4);
    await env.cp.stopApiServer(2_000);
    try {
      const results = await load(100, 2_000);
      expect(results.filter((r) => r.error).map((r) => r.error)).toEqual([]);
      expect(servedBy(results, 'other')).toBe(0);
    } finally {
      await env.cp.startApiServer();
    }
    // the watch reconnects (backoff while the server was gone) and relists: a new pod is found
    await putSlice(slice(p4));
    const t0 = performance.now();
    for (const r of replicas)
      await waitFor(
        'p4 serving on this replica',
        async () => (await ask(r, 'new pod?')).pod === 'p4',
        60_000,
      );
    console.log(`api server back: a new pod served ${Math.round(performance.now() - t0)} ms after its slice`);
  });
});
