// A provider's circuit breaker is shared by every tenant routed to it. A tenant whose own requests
// fail upstream (here: a prompt the upstream answers with 500; in life, a prompt a self-hosted server
// takes longer than the first-byte timeout to prefill) used to eject the provider for everybody:
// every other tenant got 503 SLUICE_ERR_NO_HEALTHY_BACKEND for the ejection time. Now one tenant's
// run of failures ejects the provider for that tenant only; another tenant's request goes through as
// the probe (closing the circuit), and only failures of two tenants eject it for all.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { type InProcessDataplane, openaiProvider, startDataplane } from '../helpers/dataplane.ts';
import { sdkError, sha256 } from '../policy/fixtures.ts';

const KEY_A = 'sk-breaker-tenant-a-0001';
const KEY_B = 'sk-breaker-tenant-b-0002';
let up: FakeOpenAI;
let dp: InProcessDataplane;

beforeAll(async () => {
  up = await startFakeOpenAI({ name: 'shared' });
  up.setFault((req) => (JSON.stringify(req.body).includes('poison') ? { status: 500 } : {}));
  dp = await startDataplane({
    providers: [
      openaiProvider('shared', up.url, {
        // a minute's ejection: nothing in this test waits for it to pass
        circuitBreaker: { consecutiveFailures: 2, baseEjectionMs: 60_000, maxEjectionMs: 60_000 },
      }),
    ],
    routes: [{ name: 'r', backends: [{ provider: 'shared' }], retry: { attempts: 0 } }],
    namespaces: [
      { name: 'team-a', match: { apiKeys: [{ name: 'a', sha256: sha256(KEY_A) }] } },
      { name: 'team-b', match: { apiKeys: [{ name: 'b', sha256: sha256(KEY_B) }] } },
    ],
  });
});

afterAll(async () => {
  await dp?.stop();
  await up?.close();
});

const ask = (key: string, content: string) =>
  new OpenAI({ baseURL: dp.baseURL, apiKey: key, maxRetries: 0 }).chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content }],
  });

describe("a shared provider's circuit breaker", () => {
  it("is not opened for everybody by one tenant's failing requests", async () => {
    expect((await sdkError(ask(KEY_A, 'poison'))).status).toBe(502);
    expect((await sdkError(ask(KEY_A, 'poison'))).status).toBe(502);
    // ejected for the tenant whose requests failed
    const ejected = await sdkError(ask(KEY_A, 'hello'));
    expect(ejected.status).toBe(503);
    expect(ejected.headers?.get('x-sluice-error-code')).toBe('SLUICE_ERR_NO_HEALTHY_BACKEND');
    // the other tenant is served (its request is the probe, and closes the circuit)
    expect((await ask(KEY_B, 'hello')).choices[0]?.message.content).toBeTruthy();
    expect((await ask(KEY_A, 'hello')).choices[0]?.message.content).toBeTruthy();
  });

  it('is opened for everybody when a second tenant fails too', async () => {
    await sdkError(ask(KEY_A, 'poison'));
    await sdkError(ask(KEY_A, 'poison'));
    expect((await sdkError(ask(KEY_B, 'poison'))).status).toBe(502);
    expect((await sdkError(ask(KEY_B, 'hello'))).status).toBe(503);
    expect((await sdkError(ask(KEY_A, 'hello'))).status).toBe(503);
  });
});
