// Self-hosted endpoints from the plain config (no Kubernetes): a static list of fake vLLM pods behind
// one provider. Picking per pod, passive ejection and active health checks per pod, membership changes
// by reload, and the degrade switch (`suspended`) in the config file.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeVllm, startFakeVllm } from '../fakes/vllm.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { waitFor } from '../operator/helpers.ts';

const MODEL = 'llama-3-8b';
const pods: FakeVllm[] = [];
let dp: InProcessDataplane | undefined;

beforeAll(async () => {
  for (let i = 0; i < 3; i++) pods.push(await startFakeVllm(`p${i}`, MODEL));
});
afterAll(async () => {
  for (const p of pods) await p.close();
});
afterEach(async () => {
  await dp?.stop();
  dp = undefined;
  for (const p of pods) {
    p.failWith = undefined;
    p.unhealthy = false;
  }
});

function config(llama: Record<string, unknown>, backend: Record<string, unknown> = {}) {
  return {
    providers: [
      {
        name: 'llama',
        type: 'vllm',
        endpoints: { static: pods.map((p) => `http://127.0.0.1:${p.port}`), basePath: '/v1' },
        circuitBreaker: { consecutiveFailures: 2, baseEjectionMs: 60_000, maxEjectionMs: 60_000 },
        ...llama,
      },
      { name: 'backup', type: 'mock', mock: { outputTokens: 4, text: 'from the backup' } },
    ],
    routes: [
      {
        name: 'chat',
        backends: [{ provider: 'llama', ...backend }],
        fallback: [{ provider: 'backup' }],
      },
    ],
  };
}

async function ask(content = 'hi'): Promise<string> {
  const res = await fetch(`${dp?.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content }] }),
  });
  const body = (await res.json()) as { choices?: Array<{ message: { content: string } }>; error?: unknown };
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(body)}`);
  const text = body.choices?.[0]?.message.content ?? '';
  return /^\[(p\d)\]/.exec(text)?.[1] ?? 'backup';
}

const counts = (picks: string[]) =>
  Object.fromEntries(['p0', 'p1', 'p2', 'backup'].map((k) => [k, picks.filter((p) => p === k).length]));

describe('static endpoints', () => {
  it('round-robin spreads requests evenly over the pods, each receiving valid OpenAI requests', async () => {
    dp = await startDataplane(
      config({
        endpoints: {
          static: pods.map((p) => `http://127.0.0.1:${p.port}`),
          basePath: '/v1',
          picker: 'round-robin',
        },
      }),
    );
    const picks: string[] = [];
    for (let i = 0; i < 30; i++) picks.push(await ask());
    expect(counts(picks)).toEqual({ p0: 10, p1: 10, p2: 10, backup: 0 });
    for (const p of pods) expect(p.invalid).toEqual([]);
  });

  it('a failing pod is ejected by its own breaker; the request is retried on a sibling, never lost', async () => {
    dp = await startDataplane(config({}));
    const p1 = pods[1] as FakeVllm;
    p1.failWith = 503;
    const before = p1.received;
    const picks: string[] = [];
    for (let i = 0; i < 40; i++) picks.push(await ask());
    expect(counts(picks).backup).toBe(0);
    expect(counts(picks).p1).toBe(0);
    // two consecutive failures eject it: it never sees a third request
    expect(p1.received - before).toBeLessThanOrEqual(2);
    const ready = (await (await fetch(`${dp.adminUrl}/readyz`)).json()) as {
      providers?: Record<string, { endpoints?: unknown }>;
    };
    expect(ready.providers?.llama?.endpoints).toEqual({ ready: 2, ejected: 1, unhealthy: 0 });
  });

  it('active health checks take one pod out and put it back', async () => {
    dp = await startDataplane(
      // the default probe: GET {basePath}/models on every pod
      config({ healthCheck: { intervalMs: 100, timeoutMs: 500, unhealthyThreshold: 1 } }),
    );
    const p2 = pods[2] as FakeVllm;
    p2.unhealthy = true;
    // the replica's own view, not a run of picks: 9 weighted-random picks miss one pod of three by
    // chance 2.6% of the time, which let this test go on before the probe had taken p2 out
    await waitFor('p2 unhealthy', async () => {
      const r = (await (await fetch(`${dp?.adminUrl}/readyz`)).json()) as {
        providers?: Record<string, { endpoints?: { ready: number } }>;
      };
      return r.providers?.llama?.endpoints?.ready === 2;
    });
    const picks: string[] = [];
    for (let i = 0; i < 30; i++) picks.push(await ask());
    expect(counts(picks).p2).toBe(0);
    p2.unhealthy = false;
    await waitFor(
      'p2 back',
      async () => (await ask()) === 'p2' || (await ask()) === 'p2' || (await ask()) === 'p2',
    );
  });

  it('a reload that changes the list keeps the surviving pods and drops the removed one', async () => {
    dp = await startDataplane(config({}));
    for (let i = 0; i < 6; i++) await ask();
    const two = config({
      endpoints: { static: pods.slice(0, 2).map((p) => `http://127.0.0.1:${p.port}`), basePath: '/v1' },
    });
    dp.config.write(two);
    const p2 = pods[2] as FakeVllm;
    await waitFor('reloaded', async () => {
      const r = (await (await fetch(`${dp?.adminUrl}/readyz`)).json()) as {
        providers?: Record<string, { endpoints?: { ready: number } }>;
      };
      return r.providers?.llama?.endpoints?.ready === 2;
    });
    const seen = p2.received;
    for (let i = 0; i < 20; i++) await ask();
    expect(p2.received).toBe(seen);
  });

  it('suspended in the config file moves traffic to the fallback within a second, and back', async () => {
    dp = await startDataplane(config({}));
    expect(await ask()).toMatch(/^p/);
    const t0 = performance.now();
    dp.config.write(config({ suspended: true }));
    await waitFor('on the fallback', async () => (await ask()) === 'backup', 5_000);
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(1_000);
    const metrics = await (await fetch(`${dp.adminUrl}/metrics`)).text();
    expect(metrics).toContain('sluice_backend_suspended{route="chat",provider="llama"} 1');
    // a suspended route backend works the same way; unsuspended, the pods serve again
    dp.config.write(config({}, { suspended: true }));
    await waitFor('still on the fallback', async () => (await ask()) === 'backup', 5_000);
    dp.config.write(config({}));
    await waitFor('back on the pods', async () => (await ask()).startsWith('p'), 5_000);
    expect(await (await fetch(`${dp.adminUrl}/metrics`)).text()).not.toContain('sluice_backend_suspended{');
  });
});
