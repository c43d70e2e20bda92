// Fallback, retries, Retry-After, streaming fallback before the first byte, honest mid-stream
// failure, and the circuit breaker, through a real dataplane with the openai SDK as client.
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { metrics } from '../../dataplane/src/observability/metrics.ts';
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

async function gateway(route: Record<string, unknown>, providers?: unknown[]) {
  dp = await startDataplane({
    providers: providers ?? [openaiProvider('a', a.url), openaiProvider('b', b.url)],
    routes: [{ name: 'r', ...route }],
  });
  return new OpenAI({ baseURL: dp.baseURL, apiKey: 'x', maxRetries: 0 });
}

const chat = (client: OpenAI) =>
  client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

async function collect(stream: AsyncIterable<OpenAI.ChatCompletionChunk>): Promise<string> {
  let text = '';
  for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
  return text;
}

describe('fallback and retry', () => {
  it('falls back to the next backend on 5xx and counts the switch', async () => {
    a.setFault(() => ({ status: 503 }));
    const client = await gateway({
      backends: [{ provider: 'a' }],
      fallback: [{ provider: 'b' }],
      retry: { baseDelayMs: 1 },
    });
    const before =
      (await metrics.fallbacks.get()).values.find(
        (v) => v.labels.from_provider === 'a' && v.labels.to_provider === 'b',
      )?.value ?? 0;
    const res = await chat(client);
    expect(res.choices[0]?.message.content).toContain('[b]');
    expect(a.requests).toHaveLength(1);
    const after =
      (await metrics.fallbacks.get()).values.find(
        (v) => v.labels.from_provider === 'a' && v.labels.to_provider === 'b',
      )?.value ?? 0;
    expect(after).toBe(before + 1);
  });

  it('falls back when the first backend refuses connections', async () => {
    const client = await gateway(
      { backends: [{ provider: 'dead' }], fallback: [{ provider: 'b' }], retry: { baseDelayMs: 1 } },
      [openaiProvider('dead', 'http://127.0.0.1:1/v1'), openaiProvider('b', b.url)],
    );
    expect((await chat(client)).choices[0]?.message.content).toContain('[b]');
  });

  it('honours Retry-After from a 429 before retrying the same backend', async () => {
    a.setFault((_r, n) => (n === 0 ? { status: 429, retryAfter: '1' } : {}));
    const client = await gateway({
      backends: [{ provider: 'a' }, { provider: 'a', weight: 0 }],
      retry: { attempts: 2 },
    });
    const t0 = Date.now();
    const res = await chat(client);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(res.choices[0]?.message.content).toContain('[a]');
    expect(a.requests).toHaveLength(2);
  });

  it('returns 429 with the upstream Retry-After when every backend is rate limited', async () => {
    a.setFault(() => ({ status: 429, retryAfter: '30' }));
    b.setFault(() => ({ status: 429, retryAfter: '30' }));
    const client = await gateway({ backends: [{ provider: 'a' }], fallback: [{ provider: 'b' }] });
    const err = await chat(client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e.headers.get('retry-after')).toBe('30');
    expect(e.headers.get('x-sluice-error-code')).toBe('SLUICE_ERR_UPSTREAM_RATE_LIMITED');
    // the provider's own code (the fake sends OpenAI's rate_limit_exceeded) reaches the client
    expect((e.error as { code: string }).code).toBe('rate_limit_exceeded');
    expect(e.message).toMatch(/provider 'b' answered 429/);
  });

  it('retries a single backend up to retry.attempts times', async () => {
    a.setFault((_r, n) => (n < 2 ? { status: 502 } : {}));
    const client = await gateway({ backends: [{ provider: 'a' }], retry: { attempts: 2, baseDelayMs: 1 } });
    expect((await chat(client)).choices[0]?.message.content).toContain('[a]');
    expect(a.requests).toHaveLength(3);
  });

  it('does not wait for, or re-ask, a backend whose Retry-After exceeds the allowed wait', async () => {
    a.setFault(() => ({ status: 429, retryAfter: '120' }));
    const client = await gateway({ backends: [{ provider: 'a' }], retry: { attempts: 3 } });
    const t0 = Date.now();
    const err = (await chat(client).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(Date.now() - t0).toBeLessThan(500);
    expect(err.status).toBe(429);
    expect(a.requests).toHaveLength(1);
  });

  it('does not retry a 4xx the upstream rejected, and passes its status on', async () => {
    a.setFault(() => ({ status: 422 }));
    const client = await gateway({ backends: [{ provider: 'a' }], fallback: [{ provider: 'b' }] });
    const err = (await chat(client).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(422);
    expect(b.requests).toHaveLength(0);
  });

  it('falls back for a stream that fails before its first byte', async () => {
    a.setFault(() => ({ resetAfterChunks: 0 }));
    const client = await gateway({
      backends: [{ provider: 'a' }],
      fallback: [{ provider: 'b' }],
      retry: { baseDelayMs: 1 },
    });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    expect(await collect(stream)).toBe('[b] from the fake upstream server with tokens');
  });

  it('ends a stream that breaks after bytes reached the client with an error, not a clean finish', async () => {
    a.setFault(() => ({ resetAfterChunks: 3, chunkDelayMs: 20 }));
    const client = await gateway({ backends: [{ provider: 'a' }], fallback: [{ provider: 'b' }] });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let text = '';
    const err = await (async () => {
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(text).toBe('[a] from the');
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(String((err as Error).message)).toMatch(/provider 'a'/);
    expect(b.requests).toHaveLength(0);
  });

  it('ejects a failing backend after consecutive failures and probes it again later', async () => {
    a.setFault(() => ({ status: 500 }));
    const client = await gateway(
      {
        strategy: 'round-robin',
        backends: [{ provider: 'a' }, { provider: 'b' }],
        retry: { baseDelayMs: 1, attempts: 1 },
      },
      [
        openaiProvider('a', a.url, { circuitBreaker: { consecutiveFailures: 3, baseEjectionMs: 400 } }),
        openaiProvider('b', b.url),
      ],
    );
    for (let i = 0; i < 12; i++) expect((await chat(client)).choices[0]?.message.content).toContain('[b]');
    expect(a.requests).toHaveLength(3);
    const ready = (await (await fetch(`${dp?.adminUrl}/readyz`)).json()) as {
      providers: Record<string, { circuit: string }>;
    };
    expect(ready.providers.a?.circuit).toBe('open');
    a.setFault(() => ({}));
    await new Promise((r) => setTimeout(r, 450));
    const picks = [];
    for (let i = 0; i < 4; i++) picks.push((await chat(client)).choices[0]?.message.content?.slice(1, 2));
    expect(picks).toContain('a');
    const after = (await (await fetch(`${dp?.adminUrl}/readyz`)).json()) as {
      providers: Record<string, { circuit: string }>;
    };
    expect(after.providers.a?.circuit).toBe('closed');
  });

  it('answers 503 when every backend is ejected', async () => {
    a.setFault(() => ({ status: 500 }));
    const client = await gateway({ backends: [{ provider: 'a' }], retry: { attempts: 0 } }, [
      openaiProvider('a', a.url, { circuitBreaker: { consecutiveFailures: 1, baseEjectionMs: 60_000 } }),
    ]);
    await chat(client).catch(() => undefined);
    const err = (await chat(client).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(503);
    expect((err.error as { code: string }).code).toBe('SLUICE_ERR_NO_HEALTHY_BACKEND');
    expect(a.requests).toHaveLength(1);
  });
});
