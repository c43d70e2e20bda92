// A route's retry budget and the latency averages its `latency` strategy orders backends by were one
// for all tenants: a tenant whose requests fail spent every retry of the window (another tenant's
// request that met one transient failure was not retried), and a tenant whose requests are slow on
// their own (long prompts) pushed every other tenant off a backend that was fast for them. Both are
// now kept per tenant (proxy/retry.ts RetryBudgets, compiled/provider_runtime.ts latencyScore); the
// circuit breaker's tenant rule is in shared_breaker.test.ts.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { type InProcessDataplane, openaiProvider, startDataplane } from '../helpers/dataplane.ts';
import { sdkError, sha256 } from '../policy/fixtures.ts';

const KEY_A = 'sk-route-state-tenant-a-01';
const KEY_B = 'sk-route-state-tenant-b-02';
/** how long the backend `p2` takes for everything, and `p1` for tenant A's "slow" prompts */
const P2_MS = 200;
const P1_SLOW_MS = 1_500;
const breaker = {
  circuitBreaker: { consecutiveFailures: 1_000, baseEjectionMs: 1_000, maxEjectionMs: 1_000 },
};
const ups: Record<'primary' | 'backup' | 'p1' | 'p2', FakeOpenAI> = {} as never;
let dp: InProcessDataplane;

const said = (body: Record<string, unknown> | undefined, word: string) => JSON.stringify(body).includes(word);

beforeAll(async () => {
  for (const name of ['primary', 'backup', 'p1', 'p2'] as const) ups[name] = await startFakeOpenAI({ name });
  ups.primary.setFault(() => ({ status: 500 }));
  ups.backup.setFault((req) => (said(req.body, 'poison') ? { status: 500 } : {}));
  ups.p1.setFault((req) => (said(req.body, 'slow') ? { delayMs: P1_SLOW_MS } : {}));
  ups.p2.setFault(() => ({ delayMs: P2_MS }));
  dp = await startDataplane({
    providers: Object.values(ups).map((u, i) =>
      openaiProvider(['primary', 'backup', 'p1', 'p2'][i] as string, u.url, breaker),
    ),
    routes: [
      {
        name: 'retrying',
        match: { models: ['retry-model'] },
        backends: [{ provider: 'primary' }],
        fallback: [{ provider: 'backup' }],
        // the budget's floor alone: 10 retries per 10 s
        retry: { attempts: 1, baseDelayMs: 0, budgetPercent: 0 },
      },
      {
        name: 'fastest',
        match: { models: ['fast-model'] },
        strategy: 'latency',
        backends: [{ provider: 'p1' }, { provider: 'p2' }],
        retry: { attempts: 0 },
      },
    ],
    namespaces: [
      { name: 'team-a', match: { apiKeys: [{ name: 'a', sha256: sha256(KEY_A) }] } },
      { name: 'team-b', match: { apiKeys: [{ name: 'b', sha256: sha256(KEY_B) }] } },
    ],
  });
});

afterAll(async () => {
  await dp?.stop();
  for (const u of Object.values(ups)) await u?.close();
});

const ask = (key: string, model: string, content: string) =>
  new OpenAI({ baseURL: dp.baseURL, apiKey: key, maxRetries: 0 }).chat.completions.create({
    model,
    messages: [{ role: 'user', content }],
  });

describe("a route's retry budget", () => {
  it("is not spent for another tenant by one tenant's failing requests", async () => {
    // team-a's requests fail everywhere: each spends one retry, ten spend the window's floor
    for (let i = 0; i < 10; i++)
      expect((await sdkError(ask(KEY_A, 'retry-model', 'poison'))).status).toBe(502);
    expect(ups.backup.requests.length).toBe(10);
    // team-b meets the primary's failure once: its retry (its own budget) reaches the backup
    const served = await ask(KEY_B, 'retry-model', 'hello');
    expect(served.choices[0]?.message.content).toContain('[backup]');
    // team-a's own budget is spent: its next failure is not retried
    expect((await sdkError(ask(KEY_A, 'retry-model', 'poison'))).status).toBe(502);
    expect(ups.backup.requests.length).toBe(11);
  });
});

describe("a route's latency averages", () => {
  it("are not skewed for another tenant by one tenant's slow requests", async () => {
    // team-b measures both backends (an unmeasured one scores 0 and is tried next): p1 is its fastest
    for (let i = 0; i < 2; i++) await ask(KEY_B, 'fast-model', 'hello');
    expect([ups.p1.requests.length, ups.p2.requests.length]).toEqual([1, 1]);
    // team-a's prompts are slow on p1 (on their own: p1 answers team-b at once)
    for (let i = 0; i < 3; i++) await ask(KEY_A, 'fast-model', 'slow');
    const p2Before = ups.p2.requests.filter((r) => !said(r.body, 'slow')).length;
    // team-b still goes to p1, its fastest, not to p2 (200 ms) because of team-a's 1.5 s
    for (let i = 0; i < 3; i++)
      expect((await ask(KEY_B, 'fast-model', 'hello')).choices[0]?.message.content).toContain('[p1]');
    expect(ups.p2.requests.filter((r) => !said(r.body, 'slow')).length).toBe(p2Before);
  });
});
