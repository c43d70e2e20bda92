// Finding 1 of the adversarial review: the half-open probe slot of a provider's circuit breaker must
// come back whatever ends the attempt. A request whose translation throws (a content part the
// Anthropic translator refuses, or JSON nested deep enough to break a recursive copy) used to keep the
// slot forever, so every later request to that provider got 503 SLUICE_ERR_NO_HEALTHY_BACKEND until a
// restart (breaker state survives reloads). Driven through a real `sluice serve` process, a fake
// Anthropic upstream and the official openai SDK.
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeAnthropic, startFakeAnthropic } from '../fakes/anthropic.ts';
import {
  configDir,
  type DataplaneProcess,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';

const EJECTION_MS = 300;
let claude: FakeAnthropic;
let dp: DataplaneProcess;
let cfg: TestConfigDir;
let client: OpenAI;
let failNext = false;

beforeAll(async () => {
  claude = await startFakeAnthropic({ apiKey: process.env.SLUICE_TEST_KEY });
  claude.setScript(() => {
    if (!failNext) return {};
    failNext = false;
    return { status: 500 };
  });
  cfg = configDir({
    providers: [
      {
        name: 'claude',
        type: 'anthropic',
        baseUrl: claude.url,
        credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
        circuitBreaker: { consecutiveFailures: 1, baseEjectionMs: EJECTION_MS, maxEjectionMs: EJECTION_MS },
      },
    ],
    routes: [{ name: 'claude', match: { models: ['claude-*'] }, backends: [{ provider: 'claude' }] }],
  });
  dp = await spawnDataplane(cfg.file);
  client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'x', maxRetries: 0 });
});

afterAll(async () => {
  if (process.env.DUMP) console.log(dp?.logs.join(''));
  await dp?.stop();
  cfg?.cleanup();
  await claude?.close();
});

const hello = () =>
  client.chat.completions.create({ model: 'claude-x', messages: [{ role: 'user', content: 'hi' }] });

async function circuit(): Promise<string | undefined> {
  const ready = (await (await fetch(`${dp.adminUrl}/readyz`)).json()) as {
    providers?: Record<string, { circuit?: string }>;
  };
  return ready.providers?.claude?.circuit;
}

/** One upstream 500 opens the circuit; after the ejection time the next request is the probe. */
async function openThenWaitForHalfOpen(): Promise<void> {
  failNext = true;
  const err = await hello().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OpenAI.APIError);
  expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
  // open, or already half-open on a slow machine: either way no longer closed
  const opened = await circuit();
  if (opened !== undefined) expect(['open', 'half-open']).toContain(opened);
  await new Promise((r) => setTimeout(r, EJECTION_MS + 100));
}

describe('the half-open probe slot is given back when building the upstream request throws', () => {
  beforeEach(async () => {
    // start each case from a closed circuit
    expect((await hello()).choices[0]?.message.content).toBeTruthy();
  });

  it('a content part of an unknown type (refused by the Anthropic translator)', async () => {
    await openThenWaitForHalfOpen();
    const bad = await client.chat.completions
      .create({
        model: 'claude-x',
        messages: [{ role: 'user', content: [{ type: 'bogus', text: 'x' } as never] }],
      })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.APIError);
    expect((bad as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
    // the provider answers again: not 503 SLUICE_ERR_NO_HEALTHY_BACKEND
    const ok = await hello();
    expect(ok.choices[0]?.message.content).toBeTruthy();
    expect(await circuit()).not.toBe('open');
  });

  it('JSON nested 20,000 deep in a tool schema', async () => {
    await openThenWaitForHalfOpen();
    // built as text: the SDK's own JSON.stringify cannot go this deep
    const depth = 20_000;
    const schema = `${'{"type":"object","properties":{"x":'.repeat(depth)}{"type":"string"}${'}}'.repeat(depth)}`;
    const body = `{"model":"claude-x","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${schema}}}]}`;
    const res = await fetch(`${dp.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
      body,
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    await res.arrayBuffer();
    const ok = await hello();
    expect(ok.choices[0]?.message.content).toBeTruthy();
  });
});
