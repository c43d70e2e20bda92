// Per-provider max concurrency with a bounded queue, active health checks, and the metrics surface
// (OpenTelemetry GenAI names, labels bounded by config rather than by what clients send).
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { type InProcessDataplane, openaiProvider, startDataplane } from '../helpers/dataplane.ts';

let a: FakeOpenAI;
let b: FakeOpenAI;
let dp: InProcessDataplane | undefined;

beforeAll(async () => {
  a = await startFakeOpenAI({ name: 'a' });
  b = await startFakeOpenAI({ name: 'b' });
});
afterAll(async () => {
  await a.close();
  await b.close();
});
afterEach(async () => {
  await dp?.stop();
  dp = undefined;
  for (const f of [a, b]) {
    f.setFault(() => ({}));
    f.requests.length = 0;
  }
});

const messages = [{ role: 'user' as const, content: 'hi' }];

describe('provider concurrency', () => {
  it('queues up to maxQueue and rejects the rest with 429 SLUICE_ERR_QUEUE_FULL', async () => {
    a.setFault(() => ({ delayMs: 300 }));
    dp = await startDataplane({
      providers: [openaiProvider('a', a.url, { maxConcurrency: 1, maxQueue: 1 })],
      routes: [{ name: 'r', backends: [{ provider: 'a' }], retry: { attempts: 0 } }],
    });
    const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'x', maxRetries: 0 });
    const results = await Promise.allSettled(
      [0, 1, 2].map(() => client.chat.completions.create({ model: 'm', messages })),
    );
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect(rejected).toHaveLength(1);
    const err = (rejected[0] as PromiseRejectedResult).reason as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(429);
    expect((err.error as { code: string }).code).toBe('SLUICE_ERR_QUEUE_FULL');
    expect(a.requests).toHaveLength(2);
  });
});

describe('active health checks', () => {
  it('skips a provider failing its health check and returns to it when it recovers', async () => {
    let healthy = false;
    a.setFault((req) => (req.method === 'GET' && !healthy ? { status: 503 } : {}));
    dp = await startDataplane({
      providers: [
        openaiProvider('a', a.url, {
          healthCheck: { path: '/models', intervalMs: 50, unhealthyThreshold: 1, healthyThreshold: 1 },
        }),
        openaiProvider('b', b.url),
      ],
      routes: [{ name: 'r', backends: [{ provider: 'a' }], fallback: [{ provider: 'b' }] }],
    });
    const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'x', maxRetries: 0 });
    const until = async (cond: () => Promise<boolean>) => {
      const deadline = Date.now() + 3000;
      while (!(await cond()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    };
    const readyA = async () =>
      (
        (await (await fetch(`${dp?.adminUrl}/readyz`)).json()) as {
          providers: Record<string, { healthy: boolean }>;
        }
      ).providers.a?.healthy;
    await until(async () => (await readyA()) === false);
    const posts = () => a.requests.filter((r) => r.method === 'POST').length;
    const r1 = await client.chat.completions.create({ model: 'm', messages });
    expect(r1.choices[0]?.message.content).toContain('[b]');
    expect(posts()).toBe(0);
    healthy = true;
    await until(async () => (await readyA()) === true);
    const r2 = await client.chat.completions.create({ model: 'm', messages });
    expect(r2.choices[0]?.message.content).toContain('[a]');
  });
});

describe('health check paths', () => {
  it("probes the provider type's own health path with its query and auth (azure: api-version, api-key)", async () => {
    dp = await startDataplane({
      providers: [
        {
          name: 'az',
          type: 'azure-openai',
          baseUrl: `http://127.0.0.1:${a.port}`,
          apiVersion: '2024-10-21',
          credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
          healthCheck: { intervalMs: 50 },
        },
      ],
      routes: [{ name: 'r', backends: [{ provider: 'az' }] }],
    });
    const deadline = Date.now() + 3000;
    while (!a.requests.some((r) => r.method === 'GET') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    const probe = a.requests.find((r) => r.method === 'GET');
    expect(probe?.path).toBe('/openai/models?api-version=2024-10-21');
    expect(probe?.headers['api-key']).toBe(process.env.SLUICE_TEST_KEY);
  });
});

describe('metrics', () => {
  it('exposes GenAI-convention metrics with labels bounded by the config', async () => {
    dp = await startDataplane({
      providers: [{ name: 'mock', type: 'mock', mock: { outputTokens: 3 } }],
      routes: [{ name: 'metered', match: { models: ['m'] }, backends: [{ provider: 'mock' }] }],
    });
    const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'x', maxRetries: 0 });
    await client.chat.completions.create({ model: 'm', messages });
    const s = await client.chat.completions.create({ model: 'm', messages, stream: true });
    for await (const _ of s) {
      // drain
    }
    for (let i = 0; i < 30; i++)
      await client.chat.completions.create({ model: `random-${i}`, messages }).catch(() => undefined);
    const text = await (await fetch(`${dp.adminUrl}/metrics`)).text();
    for (const name of [
      'gen_ai_client_token_usage_bucket',
      'gen_ai_server_request_duration_bucket',
      'gen_ai_server_time_to_first_token_bucket',
      'sluice_requests_total',
      'sluice_tokens_total',
      'sluice_inflight_requests',
      'sluice_config_info',
      'sluice_circuit_state',
    ]) {
      expect(text, name).toContain(name);
    }
    expect(text).toMatch(
      /sluice_tokens_total\{namespace="default",model="m",provider="mock",type="output"\} \d+/,
    );
    expect(text).not.toContain('random-');
    expect(text).toMatch(
      /sluice_requests_total\{route="none",namespace="default",api="openai-chat",status="404",code="SLUICE_ERR_UNKNOWN_MODEL"\} (\d+)/,
    );
  });
});
