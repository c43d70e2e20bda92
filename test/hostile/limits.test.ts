// The multi-replica limit promises under hostile conditions (test/hostile/harness.ts): three replicas
// and their Redis on one core next to a CPU burner, bursts of 300 concurrent requests through the
// official openai SDK, store settings at their defaults (only `replicas` and `failMode` set). Each
// scenario repeats RUNS times (HOSTILE_RUNS; `npm run test:hostile` runs 10) with fresh per-key counters.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countPromptTokens } from '../../dataplane/src/tokens/counter.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { openaiProvider } from '../helpers/dataplane.ts';
import { sha256 } from '../policy/fixtures.ts';
import {
  burst,
  chat,
  countBy,
  type Hostile,
  type Outcome,
  RUNS,
  startHostile,
  usageOf,
  waitMode,
} from './harness.ts';

const BURST = 300;
const keysOf = (ns: string) =>
  Array.from({ length: 10 }, (_, i) => ({ name: `k${i}`, sha256: sha256(`sk-${ns}-${i}`) }));

/** A prompt the mock bills exactly as Sluice counts it, so the test measures the limiter. */
const PROMPT = `${'1234567890'.repeat(5)} hello`;
const PROMPT_TOKENS = countPromptTokens(PROMPT, 1, 'o200k_base');
const OUTPUT = 50;

function config(redisUrl: string, failMode: 'open' | 'closed', fakeUrl: string): Record<string, unknown> {
  return {
    // Defaults everywhere else: commandTimeoutMs, failureThreshold, retryIntervalMs.
    store: { type: 'redis', redis: { url: redisUrl, replicas: 3, failMode } },
    providers: [
      {
        name: 'mock',
        type: 'mock',
        models: [{ name: 'gpt-4o-mini' }],
        mock: { outputTokens: OUTPUT, chunkTokens: 10, latencyMs: 5 },
      },
      {
        name: 'slow-mock',
        type: 'mock',
        models: [{ name: 'gpt-4o-slow' }],
        mock: { outputTokens: 20, chunkTokens: 2, chunkDelayMs: 150 },
      },
      openaiProvider('fake', fakeUrl, { models: [{ name: 'gpt-4o' }] }),
    ],
    routes: [
      { name: 'mock', match: { models: ['gpt-4o-mini'] }, backends: [{ provider: 'mock' }] },
      { name: 'slow', match: { models: ['gpt-4o-slow'] }, backends: [{ provider: 'slow-mock' }] },
      { name: 'fake', match: { models: ['gpt-4o'] }, backends: [{ provider: 'fake' }] },
    ],
    namespaces: ['rpm', 'tpm', 'cc', 'open', 'kill', 'stall'].map((ns) => ({
      name: ns,
      match: { apiKeys: keysOf(ns) },
      policies: [ns],
    })),
    policies: [
      { name: 'rpm', scope: { perApiKey: true }, requests: { limit: 100, window: 'minute' } },
      { name: 'tpm', scope: { perApiKey: true }, tokens: [{ limit: 5_000, window: 'hour', kind: 'total' }] },
      { name: 'cc', concurrency: { max: 5 } },
      // generous limits: every request is admitted while Redis answers
      {
        name: 'open',
        scope: { perApiKey: true },
        requests: { limit: 100_000, window: 'minute' },
        tokens: [{ limit: 100_000_000, window: 'day', kind: 'total' }],
      },
      {
        name: 'stall',
        scope: { perApiKey: true },
        tokens: [{ limit: 100_000_000, window: 'day', kind: 'total' }],
      },
      {
        name: 'kill',
        scope: { perApiKey: true },
        tokens: [{ limit: 100_000_000, window: 'day', kind: 'total' }],
      },
    ],
  };
}

const body = (max_tokens = OUTPUT) => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user' as const, content: PROMPT }],
  max_tokens,
});

async function windowValue(h: Hostile, pattern: string): Promise<number> {
  const client = new Redis(h.redis.url);
  try {
    const keys = await client.keys(pattern);
    let sum = 0;
    for (const k of keys) sum += Number(await client.get(k));
    return sum;
  } finally {
    client.disconnect();
  }
}

/** Reservations cancelled by id (their records replaced by a tombstone). */
async function tombstones(h: Hostile, pattern: string): Promise<number> {
  const client = new Redis(h.redis.url);
  try {
    let n = 0;
    for (const k of await client.keys(pattern)) if ((await client.get(k)) === 'x') n++;
    return n;
  } finally {
    client.disconnect();
  }
}

/** Settlements are sent after the response; give them a moment to land (bounded polling). */
async function settled(read: () => Promise<number>, want: number): Promise<number> {
  let v = await read();
  // up to 15 s: after a stall, replays queue behind a CPU shared with a burner
  for (let i = 0; i < 150 && v !== want; i++) {
    await new Promise((r) => setTimeout(r, 100));
    v = await read();
  }
  return v;
}

function report(name: string, run: number, outs: Outcome[], extra = ''): void {
  console.log(`[hostile] ${name} run ${run + 1}/${RUNS}: ${JSON.stringify(countBy(outs))} ${extra}`);
}

/** Redis killed with requests in flight, then restarted (empty, as a cache node comes back). */
async function killScenario(h: Hostile, mode: 'open' | 'closed', run: number): Promise<void> {
  const key = `sk-kill-${run}`;
  const pattern = `sluice:{kill}:kill:total:*:k:k${run}`;
  // Phase A: streams admitted through Redis, still running when it dies. Redis is killed once every
  // stream's headers arrived (admitted, answering): a fixed sleep lost that race on a loaded machine.
  const started = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      fetch(`${h.replica(i).baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ ...body(100), model: 'gpt-4o-slow', stream: true }),
      }),
    ),
  );
  const streams = started.map(async (res) => ({ status: res.status, text: await res.text() }));
  await h.redis.kill();
  // Phase B: a burst while Redis is gone.
  const during = await burst(h, BURST, (url) => chat(url, key, body(100)));
  const a = await Promise.all(streams);
  await h.redis.restart();
  h.pinRedis();
  for (const r of h.replicas) await waitMode(r.adminUrl, 'shared');
  // Phase C: a burst after recovery.
  const after = await burst(h, BURST, (url) => chat(url, key, body(100)));
  report(`redis killed (${mode}) during`, run, during);
  report(`redis killed (${mode}) after`, run, after);

  for (const r of h.replicas) expect(r.child.exitCode).toBeNull();
  // The streams admitted before the outage finish normally.
  expect(a.map((s) => s.status)).toEqual(a.map(() => 200));
  for (const s of a) expect(s.text).toContain('data: [DONE]');
  if (mode === 'open') expect(countBy(during)).toEqual({ 200: BURST });
  else expect(countBy(during)).toEqual({ '503 SLUICE_ERR_STORE_UNAVAILABLE': BURST });
  expect(countBy(after)).toEqual({ 200: BURST });
  // No lost usage: Redis restarted empty, so it must hold exactly what was used from then on (the
  // outage usage merged back, plus the usage after recovery), and nothing of the streams whose
  // reservations died with the old Redis (their settlement must not subtract from the new window).
  const want = usageOf(during) + usageOf(after);
  expect(await settled(() => windowValue(h, pattern), want)).toBe(want);
}

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI({ name: 'fake' });
});
afterAll(async () => {
  await fake?.close();
});

describe('hostile: failMode open, 3 replicas + Redis on one busy core', () => {
  let h: Hostile;
  beforeAll(async () => {
    h = await startHostile({ config: (url) => config(url, 'open', fake.url) });
  }, 180_000);
  afterAll(async () => {
    await h?.stop();
  });

  it(`a 100 requests/minute limit admits 98..100 + refill of ${BURST} concurrent (x${RUNS})`, async () => {
    for (let run = 0; run < RUNS; run++) {
      const t0 = performance.now();
      const outs = await burst(h, BURST, (url) =>
        chat(url, `sk-rpm-${run}`, { ...body(5), messages: [{ role: 'user', content: 'hi' }] }),
      );
      const refill = Math.floor((performance.now() - t0) / 600);
      const ok = outs.filter((o) => o.status === 200).length;
      report('rpm', run, outs, `refill allowance ${refill}`);
      expect(outs.filter((o) => o.status !== 200 && o.status !== 429)).toEqual([]);
      expect(ok).toBeGreaterThanOrEqual(98);
      expect(ok).toBeLessThanOrEqual(100 + refill);
    }
  }, 600_000);

  it(`a 5,000 tokens window ends within one request of its limit and Redis charges what clients were told (x${RUNS})`, async () => {
    const perRequest = PROMPT_TOKENS + OUTPUT;
    for (let run = 0; run < RUNS; run++) {
      const outs = await burst(h, BURST, (url) => chat(url, `sk-tpm-${run}`, body()));
      const told = usageOf(outs);
      const charged = await settled(() => windowValue(h, `sluice:{tpm}:tpm:total:*:k:k${run}`), told);
      report('tpm', run, outs, `told ${told}, Redis ${charged}, per request ${perRequest}`);
      expect(outs.filter((o) => o.status !== 200 && o.status !== 429)).toEqual([]);
      expect(told).toBeLessThanOrEqual(5_000);
      expect(told).toBeGreaterThan(5_000 - perRequest);
      expect(charged).toBe(told);
    }
  }, 600_000);

  it(`the upstream never sees more than a concurrency limit of 5 in flight (x${RUNS})`, async () => {
    fake.setFault(() => ({ delayMs: 300 }));
    try {
      for (let run = 0; run < RUNS; run++) {
        const before = fake.requests.length;
        const outs = await burst(h, BURST, (url) =>
          chat(url, 'sk-cc-0', {
            model: 'gpt-4o',
            messages: [{ role: 'user', content: 'hi' }],
            max_tokens: 5,
          }),
        );
        report('concurrency', run, outs, `upstream peak ${fake.peakActive()}`);
        expect(outs.filter((o) => o.status !== 200 && o.status !== 429)).toEqual([]);
        expect(fake.requests.length - before).toBe(outs.filter((o) => o.status === 200).length);
        expect(fake.peakActive()).toBeLessThanOrEqual(5);
        expect(outs.filter((o) => o.status === 200).length).toBeGreaterThanOrEqual(5);
        // Every slot is released by its id once its request is done.
        const client = new Redis(h.redis.url);
        try {
          const card = () => client.zcard('sluice:{cc}:cc:cc');
          expect(await settled(card, 0)).toBe(0);
        } finally {
          client.disconnect();
        }
      }
    } finally {
      fake.setFault(() => ({}));
    }
  }, 600_000);

  it(`Redis frozen mid-load: late replies are cancelled by id, each request charged once (x${RUNS})`, async () => {
    for (let run = 0; run < RUNS; run++) {
      const key = `sk-stall-${run}`;
      const tombstonesBefore = await tombstones(h, 'sluice:{stall}:rsv:*');
      // 300 requests started over ~2.4 s; Redis is frozen (SIGSTOP) from 0.5 s to 2 s, so admissions
      // and settlements sent meanwhile are answered only when it resumes: too late for their requests.
      const t0 = performance.now();
      const outs = Promise.all(
        Array.from({ length: BURST }, async (_, i) => {
          await new Promise((r) => setTimeout(r, i * 8));
          const start = performance.now();
          const o = await chat(h.replica(i).baseURL, key, body(100));
          return { ...o, ms: performance.now() - start };
        }),
      );
      await new Promise((r) => setTimeout(r, 500));
      h.redis.pause();
      await new Promise((r) => setTimeout(r, 1_500));
      h.redis.resume();
      const done = await outs;
      for (const r of h.replicas) await waitMode(r.adminUrl, 'shared');
      const told = usageOf(done);
      const charged = await settled(() => windowValue(h, `sluice:{stall}:stall:total:*:k:k${run}`), told);
      const slowest = Math.max(...done.map((o) => o.ms));
      const cancelled = (await tombstones(h, 'sluice:{stall}:rsv:*')) - tombstonesBefore;
      report(
        'redis frozen',
        run,
        done,
        `told ${told}, Redis ${charged}, ${cancelled} admissions cancelled by id, slowest ${Math.round(slowest)} ms, all in ${Math.round(performance.now() - t0)} ms`,
      );
      expect(countBy(done)).toEqual({ 200: BURST });
      for (const r of h.replicas) expect(r.child.exitCode).toBeNull();
      // Served on the local share or through Redis, never both: Redis ends with exactly what was used.
      expect(charged).toBe(told);
      // Bounded: nobody waited on the frozen Redis until it came back (generous: a busy core).
      expect(slowest).toBeLessThan(15_000);
    }
  }, 600_000);

  it(`Redis killed and restarted mid-load: fail-open serves on, nothing lost or counted twice (x${RUNS})`, async () => {
    for (let run = 0; run < RUNS; run++) await killScenario(h, 'open', run);
  }, 600_000);
});

describe('hostile: failMode closed, 3 replicas + Redis on one busy core', () => {
  let h: Hostile;
  beforeAll(async () => {
    h = await startHostile({ config: (url) => config(url, 'closed', fake.url) });
  }, 180_000);
  afterAll(async () => {
    await h?.stop();
  });

  it(`returns no 503 while Redis is up (x${RUNS})`, async () => {
    for (let run = 0; run < RUNS; run++) {
      const outs = await burst(h, BURST, (url) => chat(url, `sk-open-${run}`, body(5)));
      report('fail-closed, Redis up', run, outs);
      expect(countBy(outs)).toEqual({ 200: BURST });
    }
  }, 600_000);

  it(`Redis killed and restarted mid-load: 503 while it is gone, exact again after (x${RUNS})`, async () => {
    for (let run = 0; run < RUNS; run++) await killScenario(h, 'closed', run);
  }, 600_000);
});
