// Lifecycle invariants of the request path (issue 16), which held before the exchange/attempt
// redesign (proxy/exchange.ts, attempt.ts, attempt_loop.ts, answer_*.ts) and must hold after it: on EVERY way a request can end, each provider slot
// taken is given back exactly once and each admission is completed exactly once. Driven through an
// in-process dataplane with the official openai SDK and fake upstreams; after each exit path, once the
// dataplane is quiet, the observable state must be back at rest:
//   - every provider's and endpoint's outstanding count is 0, its concurrency limiter has nothing
//     active and nothing queued, and no breaker holds its half-open probe slot;
//   - as many admissions completed as were granted, none twice;
//   - each tenant's token window holds exactly the tokens the usage metric counted (a window charged
//     but never settled would still hold the reservation);
//   - the fake upstreams have no response left open;
//   - a tenant limited to 1 concurrent request is admitted again (its slot was released).
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Admission } from '../../dataplane/src/proxy/policy_interface.ts';
import type { MemoryStore } from '../../dataplane/src/store/memory.ts';
import { windowSpan } from '../../dataplane/src/store/windows.ts';
import { type AnthropicScript, type FakeAnthropic, startFakeAnthropic } from '../fakes/anthropic.ts';
import { type FakeOpenAI, type Fault, startFakeOpenAI } from '../fakes/openai.ts';
import { type InProcessDataplane, openaiProvider, startDataplane } from '../helpers/dataplane.ts';
import { sha256 } from '../policy/fixtures.ts';

const EJECTION_MS = 150;
const TENANTS = ['serial', 'wide', 'capped'] as const;
type Tenant = (typeof TENANTS)[number];

let upA: FakeOpenAI;
let upB: FakeOpenAI;
let claude: FakeAnthropic;
let dp: InProcessDataplane;
let faultA: Fault = {};
let faultB: Fault = {};
let script: AnthropicScript = {};
const admissions = { granted: 0, completed: 0, completedTwice: 0 };

beforeAll(async () => {
  const key = process.env.SLUICE_TEST_KEY;
  upA = await startFakeOpenAI({ name: 'a', apiKey: key });
  upB = await startFakeOpenAI({ name: 'b', apiKey: key });
  upA.setFault(() => faultA);
  upB.setFault(() => faultB);
  claude = await startFakeAnthropic({ apiKey: key });
  claude.setScript(() => script);
  dp = await startDataplane({
    store: { type: 'memory' },
    server: { maxResponseBytes: 32 * 1024 },
    providers: [
      openaiProvider('a', upA.url, {
        maxConcurrency: 2,
        maxQueue: 1,
        timeouts: { firstByteMs: 400, idleMs: 400, totalMs: 1_200 },
      }),
      openaiProvider('b', upB.url),
      {
        name: 'claude',
        type: 'anthropic',
        baseUrl: claude.url,
        credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
        timeouts: { firstByteMs: 400 },
        circuitBreaker: { consecutiveFailures: 1, baseEjectionMs: EJECTION_MS, maxEjectionMs: EJECTION_MS },
      },
    ],
    routes: [
      {
        name: 'main',
        match: { models: ['gpt-main'] },
        backends: [{ provider: 'a' }],
        fallback: [{ provider: 'b' }],
        retry: { attempts: 1, baseDelayMs: 0, budgetPercent: 100 },
      },
      {
        name: 'solo',
        match: { models: ['gpt-solo'] },
        backends: [{ provider: 'a' }],
        retry: { attempts: 0 },
      },
      {
        name: 'claude',
        match: { models: ['claude-*'] },
        backends: [{ provider: 'claude' }],
        retry: { attempts: 0 },
      },
    ],
    namespaces: TENANTS.map((t) => ({
      name: t,
      match: { apiKeys: [{ name: t, sha256: sha256(`sk-${t}`) }] },
      policies: t === 'serial' ? ['one', 'tok'] : t === 'capped' ? ['cap3', 'tok'] : ['tok'],
    })),
    policies: [
      { name: 'one', concurrency: { max: 1 } },
      { name: 'tok', tokens: [{ limit: 100_000_000, window: 'month', kind: 'total' }] },
      { name: 'cap3', maxOutputTokens: { limit: 3, mode: 'clamp' } },
    ],
  });
  // Count admissions granted and completions, under the pipeline (whatever guards it has of its own).
  const gate = dp.dataplane.runtime.gate;
  const admit = gate.admit.bind(gate);
  vi.spyOn(gate, 'admit').mockImplementation(async (input) => {
    const a = await admit(input);
    admissions.granted++;
    let calls = 0;
    const counted: Admission = {
      ...a,
      complete(usage, done) {
        if (++calls === 1) admissions.completed++;
        else admissions.completedTwice++;
        a.complete(usage, done);
      },
    };
    return counted;
  });
});

afterAll(async () => {
  await dp?.stop();
  await Promise.all([upA?.close(), upB?.close(), claude?.close()]);
});

afterEach(async () => {
  await expectAtRest();
  faultA = {};
  faultB = {};
  script = {};
  // the concurrency-1 tenant is admitted again: its slot was released
  expect((await ask('serial', 'gpt-solo')).choices[0]?.message.content).toContain('[a]');
  await expectAtRest();
});

const sdk = (t: Tenant) =>
  new OpenAI({ baseURL: dp.baseURL, apiKey: `sk-${t}`, maxRetries: 0, timeout: 10_000 });
const messages = [{ role: 'user' as const, content: 'hello there' }];
const ask = (t: Tenant, model: string, opts: { signal?: AbortSignal } = {}) =>
  sdk(t).chat.completions.create({ model, messages }, opts);
const askStream = (t: Tenant, model: string) =>
  sdk(t).chat.completions.create({
    model,
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The status of a failed SDK call (or 'aborted'); fails the test if the call succeeded. */
async function failure(p: Promise<unknown>): Promise<number | 'aborted'> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err instanceof OpenAI.APIUserAbortError) return 'aborted';
  expect(err, 'the request should have failed').toBeInstanceOf(OpenAI.APIError);
  return (err as InstanceType<typeof OpenAI.APIError>).status as number;
}

async function drain(
  stream: AsyncIterable<OpenAI.ChatCompletionChunk>,
): Promise<{ text: string; err: unknown }> {
  let text = '';
  try {
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    return { text, err: undefined };
  } catch (err) {
    return { text, err };
  }
}

/** Everything a finished request must have given back, as one object (a diff shows what leaked). */
function slots() {
  const providers: Record<string, unknown> = {};
  for (const p of dp.dataplane.runtime.providers.values()) {
    providers[p.name] = {
      outstanding: p.outstanding,
      limiterActive: p.limiter?.active ?? 0,
      limiterQueued: p.limiter?.queued ?? 0,
      endpoints: p.endpoints.list.map((e) => ({ outstanding: e.outstanding, probing: e.breaker.probing })),
    };
  }
  return {
    providers,
    admissionsOpen: admissions.granted - admissions.completed,
    completedTwice: admissions.completedTwice,
    upstreamOpen: upA.activeResponses() + upB.activeResponses(),
  };
}

const AT_REST = {
  providers: Object.fromEntries(
    ['a', 'b', 'claude'].map((n) => [
      n,
      { outstanding: 0, limiterActive: 0, limiterQueued: 0, endpoints: [{ outstanding: 0, probing: false }] },
    ]),
  ),
  admissionsOpen: 0,
  completedTwice: 0,
  upstreamOpen: 0,
};

function windowUsed(t: Tenant): number {
  const store = dp.dataplane.runtime.gate.records as MemoryStore;
  return store.peek(`{${t}}:tok:total:${windowSpan('month', Date.now()).id}`) ?? 0;
}

/** tokens of the given types the usage metric counted for a tenant (default: input + output) */
async function meteredTokens(t: Tenant, types = ['input', 'output']): Promise<number> {
  const text = await (await fetch(`${dp.adminUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('sluice_tokens_total{') || !line.includes(`namespace="${t}"`)) continue;
    if (types.some((type) => line.includes(`type="${type}"`)))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Waits (bounded) for in-flight work to end, then checks every slot is back and every window settled. */
async function expectAtRest(): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && JSON.stringify(slots()) !== JSON.stringify(AT_REST)) await sleep(20);
  expect(slots()).toEqual(AT_REST);
  for (const t of TENANTS)
    expect({ tenant: t, window: windowUsed(t) }).toEqual({ tenant: t, window: await meteredTokens(t) });
}

describe('answers', () => {
  it('a whole answer and a stream', async () => {
    const whole = await ask('serial', 'gpt-solo');
    expect(whole.usage?.total_tokens).toBeGreaterThan(0);
    const { text, err } = await drain(await askStream('serial', 'gpt-solo'));
    expect(err).toBeUndefined();
    expect(text).toContain('[a]');
    expect(windowUsed('serial')).toBeGreaterThan(0);
  });
});

describe('an upstream that reports no usage', () => {
  it('a whole answer: Sluice counts its input and output, as it does for a stream', async () => {
    faultA = { noUsage: true, tokens: 8 };
    const [input, output] = [
      await meteredTokens('serial', ['input']),
      await meteredTokens('serial', ['output']),
    ];
    const r = await ask('serial', 'gpt-solo');
    expect(r.choices[0]?.message.content).toContain('[a]');
    expect(await meteredTokens('serial', ['input'])).toBeGreaterThan(input);
    // 8 words of answer: at least 8 tokens, not 0 (the window equals the metric: afterEach)
    expect((await meteredTokens('serial', ['output'])) - output).toBeGreaterThanOrEqual(8);
  });

  it('a whole answer cut to an output cap keeps its input count', async () => {
    faultA = { noUsage: true, ignoreMaxTokens: true, tokens: 8 };
    const [input, output] = [
      await meteredTokens('capped', ['input']),
      await meteredTokens('capped', ['output']),
    ];
    const r = await ask('capped', 'gpt-solo');
    expect(r.usage?.completion_tokens).toBe(3);
    expect((await meteredTokens('capped', ['output'])) - output).toBe(3);
    expect(await meteredTokens('capped', ['input'])).toBeGreaterThan(input);
  });
});

describe('upstream errors, retries and fallback', () => {
  it('an upstream 400 (not retried)', async () => {
    faultA = { status: 400 };
    expect(await failure(ask('serial', 'gpt-solo'))).toBe(400);
  });

  it('an upstream 500 with no retry left', async () => {
    faultA = { status: 500 };
    expect(await failure(ask('serial', 'gpt-solo'))).toBe(502);
  });

  it('a 500 then the fallback answers', async () => {
    faultA = { status: 500 };
    const r = await ask('serial', 'gpt-main');
    expect(r.choices[0]?.message.content).toContain('[b]');
  });

  it('the backend and the fallback both fail', async () => {
    faultA = { status: 503 };
    faultB = { status: 500 };
    expect(await failure(ask('serial', 'gpt-main'))).toBe(502);
  });

  it('a stream whose first backend breaks before the first byte falls back', async () => {
    faultA = { resetAfterChunks: 0 };
    const { text, err } = await drain(await askStream('serial', 'gpt-main'));
    expect(err).toBeUndefined();
    expect(text).toContain('[b]');
  });

  it('a stream that breaks after its first bytes', async () => {
    faultA = { resetAfterChunks: 3, chunkDelayMs: 5 };
    const { text, err } = await drain(await askStream('serial', 'gpt-solo'));
    expect(text).toContain('[a]');
    expect(err).toBeDefined();
  });

  it('a whole answer that is not complete JSON', async () => {
    faultA = { truncatedJson: true };
    expect(await failure(ask('serial', 'gpt-solo'))).toBeGreaterThanOrEqual(500);
  });
});

describe('an upstream reporting impossible usage (negative token counts)', () => {
  it('a whole answer is delivered', async () => {
    faultA = { promptTokens: -1_000_000, cachedTokens: -5 };
    const r = await ask('serial', 'gpt-solo');
    expect(r.choices[0]?.message.content).toContain('[a]');
  });

  it('a stream ends', async () => {
    faultA = { promptTokens: -1_000_000 };
    const { text, err } = await drain(await askStream('serial', 'gpt-solo'));
    expect(err).toBeUndefined();
    expect(text).toContain('[a]');
  });
});

describe('translation errors', () => {
  it('a content part the Anthropic translator refuses', async () => {
    const bad = sdk('serial').chat.completions.create({
      model: 'claude-x',
      messages: [{ role: 'user', content: [{ type: 'bogus', text: 'x' } as never] }],
    });
    expect(await failure(bad)).toBe(400);
  });

  it('JSON nested 20,000 deep', async () => {
    const depth = 20_000;
    const schema = `${'{"type":"object","properties":{"x":'.repeat(depth)}{"type":"string"}${'}}'.repeat(depth)}`;
    const res = await fetch(`${dp.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-serial' },
      body: `{"model":"claude-x","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${schema}}}]}`,
    });
    await res.arrayBuffer();
    expect(res.status).toBe(400);
  });
});

describe('clients that go away', () => {
  it('before the first byte', async () => {
    faultA = { delayMs: 300 };
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    expect(await failure(ask('serial', 'gpt-solo', { signal: controller.signal }))).toBe('aborted');
  });

  it('after the upstream answered, before the first event reached the client', async () => {
    // message_start and content_block_start carry no client output: the gateway is still reading
    // the first events (no header sent to the client yet) when the client leaves
    script = { chunkDelayMs: 300 };
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const stream = sdk('serial').chat.completions.create(
      { model: 'claude-x', messages, stream: true },
      { signal: controller.signal },
    );
    expect(await failure(stream)).toBe('aborted');
  });

  it('in the middle of a stream', async () => {
    faultA = { tokens: 40, chunkDelayMs: 30 };
    const stream = await askStream('serial', 'gpt-solo');
    let chunks = 0;
    for await (const _ of stream) if (++chunks === 3) break; // break aborts the request
    expect(chunks).toBe(3);
  });

  it('while queued for a provider at its concurrency limit, next to a full queue', async () => {
    faultA = { delayMs: 300 };
    const c = sdk('wide');
    const running = [ask('wide', 'gpt-solo'), ask('wide', 'gpt-solo')];
    await sleep(50);
    const controller = new AbortController();
    const queued = c.chat.completions.create({ model: 'gpt-solo', messages }, { signal: controller.signal });
    await sleep(50);
    // the queue (1) is full: refused at once
    expect(await failure(ask('wide', 'gpt-solo'))).toBe(429);
    controller.abort();
    expect(await failure(queued)).toBe('aborted');
    for (const r of await Promise.all(running)) expect(r.choices[0]?.message.content).toContain('[a]');
  });
});

describe('timeouts', () => {
  it('first byte', async () => {
    // well past firstByteMs (400): undici's timers are coarse
    faultA = { delayMs: 2_000 };
    expect(await failure(ask('serial', 'gpt-solo'))).toBe(504);
  });

  it('idle in the middle of a stream', async () => {
    faultA = { stallAfterChunks: 2, chunkDelayMs: 5 };
    const { err } = await drain(await askStream('serial', 'gpt-solo'));
    expect(String((err as Error)?.message)).toMatch(/idle/);
  });

  it('total, on a slow stream', async () => {
    faultA = { tokens: 100, chunkDelayMs: 30 };
    const { err } = await drain(await askStream('serial', 'gpt-solo'));
    expect(String((err as Error)?.message)).toMatch(/total timeout/);
  });
});

describe('caps and sizes', () => {
  it('an output cap on a stream from an upstream that ignores max_tokens', async () => {
    faultA = { ignoreMaxTokens: true, tokens: 8, chunkDelayMs: 2 };
    const { err } = await drain(await askStream('capped', 'gpt-solo'));
    expect(err).toBeUndefined();
    expect(windowUsed('capped')).toBeGreaterThan(0);
  });

  it('an output cap on a whole answer', async () => {
    faultA = { ignoreMaxTokens: true, tokens: 8 };
    const r = await ask('capped', 'gpt-solo');
    expect(r.usage?.completion_tokens).toBeLessThanOrEqual(3);
  });

  it('a response larger than server.maxResponseBytes', async () => {
    faultA = { bodyBytes: 100_000 };
    expect(await failure(ask('serial', 'gpt-solo'))).toBeGreaterThanOrEqual(500);
  });
});

describe('a half-open probe ends however the request ends', () => {
  const hello = () => ask('wide', 'claude-x');

  const circuit = () => dp.dataplane.runtime.providers.get('claude')?.endpoints.list[0]?.breaker.state;

  /** Waits (bounded) until the ejection is over: the circuit is half-open and the next attempt probes. */
  async function ejectionOver(): Promise<void> {
    await sleep(EJECTION_MS);
    const deadline = Date.now() + 3_000;
    while (circuit() === 'open' && Date.now() < deadline) await sleep(20);
    expect(circuit()).toBe('half-open');
  }

  /** One upstream 500 opens the circuit (1 failure ejects); after the ejection the next attempt probes. */
  async function halfOpen(): Promise<void> {
    script = { status: 500 };
    expect(await failure(hello())).toBe(502);
    expect(circuit()).toBe('open');
    script = {};
    await ejectionOver();
  }

  afterEach(async () => {
    script = {};
    await expectAtRest();
    // the provider is usable again: the probe slot came back (a stuck one answers 503 forever)
    expect((await hello()).choices[0]?.message.content).toBeTruthy();
  });

  it('translation error', async () => {
    await halfOpen();
    const bad = sdk('wide').chat.completions.create({
      model: 'claude-x',
      messages: [{ role: 'user', content: [{ type: 'bogus', text: 'x' } as never] }],
    });
    expect(await failure(bad)).toBe(400);
  });

  it('client abort before the first byte', async () => {
    await halfOpen();
    script = { delayMs: 300 };
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    expect(await failure(ask('wide', 'claude-x', { signal: controller.signal }))).toBe('aborted');
    // wait for the fake to finish its delayed answer to nobody
    await sleep(300);
  });

  it('upstream 400', async () => {
    await halfOpen();
    script = { status: 400 };
    expect(await failure(hello())).toBe(400);
  });

  it('first-byte timeout (the probe failed: open again, then probed and closed)', async () => {
    await halfOpen();
    // well past firstByteMs (400): undici's timers are coarse
    script = { delayMs: 2_000 };
    expect(await failure(hello())).toBe(504);
    expect(circuit()).toBe('open');
    script = {};
    await ejectionOver();
  });
});
