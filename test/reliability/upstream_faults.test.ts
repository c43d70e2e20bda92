// Storms of upstream faults: each gives its documented outcome, nothing hangs, the gateway stays up,
// and no upstream socket is left open behind a failed request.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, type Fault, startFakeOpenAI } from '../fakes/openai.ts';
import { type InProcessDataplane, openaiProvider, startDataplane } from '../helpers/dataplane.ts';

let up: FakeOpenAI;
let dp: InProcessDataplane;
let client: OpenAI;

beforeAll(async () => {
  up = await startFakeOpenAI({ name: 'up' });
  dp = await startDataplane({
    providers: [
      openaiProvider('up', up.url, {
        // far above a loaded 2-core machine's scheduling stalls (a healthy answer or chunk that waits
        // in line must not read as a timeout), and far below the faults that must trip them
        timeouts: { firstByteMs: 1500, idleMs: 1500, totalMs: 10_000 },
        circuitBreaker: { consecutiveFailures: 1000, baseEjectionMs: 10 },
      }),
    ],
    server: { maxResponseBytes: 8192 },
    routes: [{ name: 'r', backends: [{ provider: 'up' }], retry: { attempts: 0 } }],
  });
  client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'x', maxRetries: 0, timeout: 10_000 });
});
afterAll(async () => {
  await dp?.stop();
  await up?.close();
});

const messages = [{ role: 'user' as const, content: 'hi' }];

interface Outcome {
  status?: number;
  code?: string;
  streamError?: string;
  finish?: string | null;
}

async function once(stream: boolean): Promise<Outcome> {
  try {
    if (!stream) {
      await client.chat.completions.create({ model: 'm', messages });
      return { status: 200 };
    }
    const s = await client.chat.completions.create({ model: 'm', messages, stream: true });
    let finish: string | null | undefined;
    for await (const c of s) finish = c.choices[0]?.finish_reason ?? finish;
    return { status: 200, finish };
  } catch (err) {
    const e = err as InstanceType<typeof OpenAI.APIError>;
    return {
      status: e.status,
      // Sluice's own code: in the header for whole answers (the body keeps the provider's code), in
      // the error event's body for a stream that failed after it started
      code: e.headers?.get('x-sluice-error-code') ?? (e.error as { code?: string } | undefined)?.code,
      streamError: e.message,
    };
  }
}

async function storm(fault: Fault, stream: boolean, n = 20): Promise<Outcome[]> {
  up.setFault(() => fault);
  const out = await Promise.all(Array.from({ length: n }, () => once(stream)));
  up.setFault(() => ({}));
  return out;
}

/** Upstream responses still open after the gateway answered: each one is a leaked socket. */
async function hangingUpstreamWork(): Promise<number> {
  const deadline = Date.now() + 5000;
  while (up.activeResponses() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return up.activeResponses();
}

describe('upstream fault storms', () => {
  const cases: Array<[string, Fault, boolean, (o: Outcome) => void]> = [
    [
      '5xx storm',
      { status: 500 },
      false,
      (o) => expect([o.status, o.code]).toEqual([502, 'SLUICE_ERR_UPSTREAM_ERROR']),
    ],
    [
      '429 with Retry-After',
      { status: 429, retryAfter: '7' },
      false,
      (o) => expect(o.code).toBe('SLUICE_ERR_UPSTREAM_RATE_LIMITED'),
    ],
    ['429 without Retry-After', { status: 429 }, false, (o) => expect(o.status).toBe(429)],
    [
      'slow headers',
      { delayMs: 6000 },
      false,
      (o) => expect([o.status, o.code]).toEqual([504, 'SLUICE_ERR_UPSTREAM_TIMEOUT']),
    ],
    [
      'reset mid-stream',
      { resetAfterChunks: 3, chunkDelayMs: 10 },
      true,
      (o) => expect(o.streamError).toMatch(/provider 'up'/),
    ],
    [
      'stalled stream',
      { stallAfterChunks: 2, chunkDelayMs: 5 },
      true,
      (o) => expect(o.streamError).toMatch(/idle for more than 1500 ms/),
    ],
    [
      'malformed SSE',
      { malformedAfterChunks: 1, chunkDelayMs: 5 },
      true,
      (o) => expect(o.streamError).toMatch(/malformed/),
    ],
    [
      'stream without end',
      { truncateAfterChunks: 2, chunkDelayMs: 5 },
      true,
      (o) => expect(o.streamError).toMatch(/before the answer was complete/),
    ],
    [
      'truncated JSON',
      { truncatedJson: true },
      false,
      (o) => expect([o.status, o.code]).toEqual([502, 'SLUICE_ERR_UPSTREAM_ERROR']),
    ],
    [
      'oversized body',
      { bodyBytes: 100_000 },
      false,
      (o) => expect(o.code).toBe('SLUICE_ERR_RESPONSE_TOO_LARGE'),
    ],
  ];
  for (const [name, fault, stream, check] of cases) {
    it(`${name}: documented outcome for every request, no leaked upstream socket`, async () => {
      const outcomes = await storm(fault, stream);
      for (const o of outcomes) check(o);
      expect(await hangingUpstreamWork()).toBe(0);
      const after = await once(false);
      expect(after.status).toBe(200);
    });
  }

  it('connection refused: 502 naming the provider', async () => {
    const dead = await startDataplane({
      providers: [openaiProvider('gone', 'http://127.0.0.1:1/v1')],
      routes: [{ name: 'r', backends: [{ provider: 'gone' }], retry: { attempts: 0 } }],
    });
    const c = new OpenAI({ baseURL: dead.baseURL, apiKey: 'x', maxRetries: 0 });
    const err = (await c.chat.completions
      .create({ model: 'm', messages })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    await dead.stop();
    expect(err.status).toBe(502);
    expect(err.message).toMatch(/provider 'gone': connection failed \(ECONNREFUSED\)/);
  });
});
