// A hostile or broken upstream, end to end (fast-check, random seed; a failure prints it): an in-process
// dataplane with one provider of each wire format (OpenAI, Anthropic, Gemini, Bedrock) in front of a
// scripted upstream that answers each format's documented response (whole or streamed) with fields of
// the wrong type, cut short, not JSON, split at any byte with pauses, too large, reset, an error status
// or an error body that echoes the credential it received. For every client API (chat, completions,
// embeddings, responses, messages) the client gets a translation or a documented error in its API's
// shape (a started stream: the API's error event), never a 500 and never a hang; afterwards every
// provider slot is back, no breaker holds a probe, no upstream response is left open, each tenant's
// window holds exactly what the usage metric counted, no metric is NaN or negative, and no credential
// reached the client's errors or the logs.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS, type ErrorCode } from '../../dataplane/src/errors.ts';
import type { MemoryStore } from '../../dataplane/src/store/memory.ts';
import { windowSpan } from '../../dataplane/src/store/windows.ts';
import { type Script, type ScriptedUpstream, startScriptedUpstream } from '../fakes/scripted_upstream.ts';
import {
  cuts,
  frameStream,
  type Json,
  mutate,
  mutation,
  STREAM,
  splitAt,
  WHOLE,
  type WireName,
} from '../fakes/upstream_wire_samples.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { sha256 } from '../policy/fixtures.ts';

// FUZZ_RUNS: cases per client/backend pair; FUZZ_SEED (+ FUZZ_PATH) replay a printed failure;
// FUZZ_DEBUG prints each answer's status and code and keeps the dataplane's log
const RUNS = Number(process.env.FUZZ_RUNS ?? 50);
const REPLAY = process.env.FUZZ_SEED
  ? { seed: Number(process.env.FUZZ_SEED), path: process.env.FUZZ_PATH, endOnFailure: true }
  : {};
const UPSTREAM_KEY = process.env.SLUICE_TEST_KEY as string;
const AWS = { id: 'AKIAFUZZUPSTREAM7788', secret: 'fuzz/upstream/aws/secret/key/5511' };
const SECRETS = [UPSTREAM_KEY, AWS.id, AWS.secret];
const MAX_RESPONSE = 32 * 1024;

type Backend = 'openai' | 'anthropic' | 'gemini' | 'bedrock';
type Client = 'chat' | 'completions' | 'embeddings' | 'responses' | 'messages';

let up: ScriptedUpstream;
let dp: InProcessDataplane;
// this suite's own debug-level log, read after every case
const logDir = mkdtempSync(join(tmpdir(), 'sluice-fuzz-log-'));
const logFile = join(logDir, 'dataplane.log');

beforeAll(async () => {
  process.env.SLUICE_TEST_FUZZ_AWS_ID = AWS.id;
  process.env.SLUICE_TEST_FUZZ_AWS_SECRET = AWS.secret;
  up = await startScriptedUpstream();
  const apiKey = { apiKey: { env: 'SLUICE_TEST_KEY' } };
  // tight enough that a stalled upstream ends a case quickly, loose enough for a loaded 2-core machine
  const common = {
    maxConcurrency: 4,
    timeouts: { firstByteMs: 1500, idleMs: 1500, totalMs: 5000 },
    circuitBreaker: { consecutiveFailures: 3, baseEjectionMs: 10, maxEjectionMs: 10 },
  };
  dp = await startDataplane(
    {
      store: { type: 'memory' },
      server: { maxResponseBytes: MAX_RESPONSE },
      providers: [
        { name: 'openai', type: 'openai', baseUrl: `${up.url}/v1`, credentials: apiKey, ...common },
        { name: 'anthropic', type: 'anthropic', baseUrl: up.url, credentials: apiKey, ...common },
        { name: 'gemini', type: 'gemini', baseUrl: `${up.url}/v1beta`, credentials: apiKey, ...common },
        {
          name: 'bedrock',
          type: 'bedrock',
          region: 'us-west-2',
          baseUrl: up.url,
          credentials: {
            accessKeyId: { env: 'SLUICE_TEST_FUZZ_AWS_ID' },
            secretAccessKey: { env: 'SLUICE_TEST_FUZZ_AWS_SECRET' },
          },
          ...common,
        },
      ],
      routes: (['openai', 'anthropic', 'gemini', 'bedrock'] as const).map((b) => ({
        name: b,
        match: { models: [`m-${b}`] },
        backends: [{ provider: b }],
        retry: { attempts: 0 },
      })),
      namespaces: [
        {
          name: 't',
          match: { apiKeys: [{ name: 't', sha256: sha256('sk-fuzz-tenant') }] },
          policies: ['tok'],
        },
      ],
      policies: [{ name: 'tok', tokens: [{ limit: 1_000_000_000_000, window: 'month', kind: 'total' }] }],
    },
    pino({ level: 'debug' }, pino.destination({ dest: logFile, sync: true })),
  );
});

afterAll(async () => {
  await dp?.stop();
  await up?.close();
  if (!process.env.FUZZ_DEBUG) rmSync(logDir, { recursive: true, force: true });
  else console.log('LOGDIR', logDir);
});

/** The wire format a backend answers a client API in. */
function wireFor(client: Client, backend: Backend): WireName {
  if (backend === 'openai')
    return client === 'completions'
      ? 'openai-completions'
      : client === 'embeddings'
        ? 'openai-embeddings'
        : client === 'responses'
          ? 'openai-responses'
          : 'openai-chat';
  if (backend === 'gemini') return client === 'embeddings' ? 'gemini-embeddings' : 'gemini';
  return backend;
}

const CASES: Array<[Client, Backend]> = [
  ['chat', 'openai'],
  ['completions', 'openai'],
  ['embeddings', 'openai'],
  ['responses', 'openai'],
  ['messages', 'openai'],
  ['chat', 'anthropic'],
  ['messages', 'anthropic'],
  ['responses', 'anthropic'],
  ['chat', 'gemini'],
  ['embeddings', 'gemini'],
  ['messages', 'gemini'],
  ['responses', 'gemini'],
  ['chat', 'bedrock'],
  ['messages', 'bedrock'],
  ['responses', 'bedrock'],
];

function request(client: Client, backend: Backend, stream: boolean): { path: string; body: unknown } {
  const model = `m-${backend}`;
  const s = stream ? { stream: true } : {};
  switch (client) {
    case 'chat':
      return {
        path: '/v1/chat/completions',
        body: {
          model,
          messages: [{ role: 'user', content: 'hi' }],
          ...s,
          ...(stream ? { stream_options: { include_usage: true } } : {}),
        },
      };
    case 'completions':
      return { path: '/v1/completions', body: { model, prompt: 'hi', ...s } };
    case 'embeddings':
      return { path: '/v1/embeddings', body: { model, input: 'hi' } };
    case 'responses':
      return { path: '/v1/responses', body: { model, input: 'hi', ...s } };
    case 'messages':
      return {
        path: '/v1/messages',
        body: { model, max_tokens: 50, messages: [{ role: 'user', content: 'hi' }], ...s },
      };
  }
}

const ERROR_BODY: Record<Backend, (echo: string) => Json> = {
  openai: (m) => ({ error: { message: m, type: 'invalid_request_error', code: m, param: null } }),
  anthropic: (m) => ({ type: 'error', error: { type: 'authentication_error', message: m } }),
  gemini: (m) => ({ error: { code: 401, message: m, status: 'UNAUTHENTICATED' } }),
  bedrock: (m) => ({ message: m }),
};

/** What the upstream does with one request, before the credential it received is known. */
type Plan =
  | {
      kind: 'answer';
      muts: Parameters<typeof mutate>[1];
      cut?: number;
      crlf: boolean;
      points: number[];
      gapMs: number;
      reset: boolean;
      huge: boolean;
    }
  | { kind: 'error'; status: number; echo: boolean; muts: Parameters<typeof mutate>[1] }
  | { kind: 'garbage'; status: number; bytes: Buffer };

const plan: fc.Arbitrary<Plan> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('answer' as const),
      muts: fc.array(mutation, { maxLength: 3 }),
      cut: fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat() }),
      crlf: fc.boolean(),
      points: cuts,
      gapMs: fc.constantFrom(0, 0, 1, 5),
      reset: fc.constantFrom(false, false, false, true),
      huge: fc.constantFrom(false, false, false, true),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('error' as const),
      status: fc.constantFrom(400, 401, 403, 404, 429, 500, 503),
      echo: fc.boolean(),
      muts: fc.array(mutation, { maxLength: 2 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('garbage' as const),
      status: fc.constantFrom(200, 200, 201, 204, 302, 500),
      bytes: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    }),
  },
);

function script(p: Plan, wire: WireName, backend: Backend, stream: boolean, credential: string): Script {
  if (p.kind === 'garbage') return { status: p.status, reads: [p.bytes] };
  if (p.kind === 'error') {
    const echo = p.echo ? `invalid key ${credential} (${credential.slice(7, 40)})` : 'bad request';
    return {
      status: p.status,
      reads: [Buffer.from(JSON.stringify(mutate(ERROR_BODY[backend](echo), p.muts)))],
    };
  }
  const events = STREAM[wire];
  let bytes: Buffer;
  if (stream && events) {
    const evs = events.map((e) => ({ ...e }));
    if (p.muts.length) {
      const i = (p.muts[0] as { pick: number }).pick % evs.length;
      const e = evs[i] as (typeof evs)[number];
      e.data = mutate(e.data, p.muts);
    }
    if (p.huge) evs.splice(1, 0, ...Array.from({ length: 200 }, () => evs[1] as (typeof evs)[number]));
    bytes = frameStream(wire, evs, p.crlf);
  } else {
    const body = mutate(WHOLE[wire], p.muts);
    bytes = Buffer.from(
      JSON.stringify(p.huge ? { pad: 'x'.repeat(MAX_RESPONSE), ...(body as object) } : body),
    );
  }
  if (p.cut !== undefined) bytes = bytes.subarray(0, p.cut % (bytes.length + 1));
  const headers = stream
    ? { 'content-type': wire === 'bedrock' ? 'application/vnd.amazon.eventstream' : 'text/event-stream' }
    : undefined;
  return { status: 200, headers, reads: splitAt(bytes, p.points), gapMs: p.gapMs, reset: p.reset };
}

interface Answer {
  status: number;
  code: string | null;
  text: string;
}

async function ask(client: Client, backend: Backend, stream: boolean): Promise<Answer> {
  const { path, body } = request(client, backend, stream);
  const res = await fetch(`${dp.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: 'Bearer sk-fuzz-tenant',
      'anthropic-version': '2023-06-01',
    },
    body: JSON.stringify(body),
    // bounded by the provider's total timeout; longer is a hang
    signal: AbortSignal.timeout(15_000),
  });
  if (process.env.FUZZ_DEBUG)
    console.log('ANS', client, backend, stream, res.status, res.headers.get('x-sluice-error-code'));
  return { status: res.status, code: res.headers.get('x-sluice-error-code'), text: await res.text() };
}

/**
 * Asks until the request reaches the upstream: failures open the provider's breaker for 10 ms (a 503
 * meanwhile). Past half a second of 503s the breaker is stuck, and the test fails.
 */
async function reachingUpstream(client: Client, backend: Backend, stream: boolean): Promise<Answer> {
  const deadline = Date.now() + 500;
  for (;;) {
    const before = up.requests();
    const a = await ask(client, backend, stream);
    if (a.code !== 'SLUICE_ERR_NO_HEALTHY_BACKEND' || up.requests() > before) return a;
    expect(Date.now(), `the ${backend} breaker stays open: ${a.text}`).toBeLessThan(deadline);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function expectNoSecret(text: string, what: string): void {
  for (const s of SECRETS)
    for (let i = 0; i + 12 <= s.length; i += 4) expect(text, what).not.toContain(s.slice(i, i + 12));
}

/** The answer is a translation or a documented error in the client API's shape. */
function expectDocumented(client: Client, stream: boolean, a: Answer): void {
  expect(a.status, a.text).not.toBe(500);
  if (a.status !== 200) {
    expect(a.code, a.text).not.toBeNull();
    expect(Object.keys(ERRORS), a.text).toContain(a.code);
    expect(a.code).not.toBe('SLUICE_ERR_INTERNAL');
    // an upstream 4xx keeps its status; Sluice's own codes have theirs
    if (a.code === 'SLUICE_ERR_UPSTREAM_REJECTED') expect(a.status).toBeGreaterThanOrEqual(400);
    else expect(a.status, a.text).toBe(ERRORS[a.code as ErrorCode].status);
    const body = JSON.parse(a.text) as { type?: string; error: { message: string; type: string } };
    if (client === 'messages') expect(body.type, a.text).toBe('error');
    expect(typeof body.error.message, a.text).toBe('string');
    expect(typeof body.error.type, a.text).toBe('string');
    expectNoSecret(a.text, 'an error answer');
    return;
  }
  if (!stream) {
    expect(() => JSON.parse(a.text), a.text.slice(0, 300)).not.toThrow();
    return;
  }
  // a stream: every frame's data is JSON (or OpenAI's [DONE]); an error event carries no secret
  for (const frame of a.text.split(/\r?\n\r?\n/)) {
    const data = frame
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n');
    if (data === '' || data === '[DONE]') continue;
    // the error of an error event (OpenAI's error chunk, Anthropic's event: error, the Responses
    // response.failed, whose response also carries the output streamed so far: model output, passed
    // on as it is, docs/security.md)
    const parsed = JSON.parse(data) as { error?: unknown; response?: { error?: unknown } };
    const error = parsed.error ?? parsed.response?.error;
    if (error) expectNoSecret(JSON.stringify(error), 'an error event');
  }
}

/** Everything a finished request must have given back. */
function slots() {
  const out: Record<string, unknown> = {};
  for (const p of dp.dataplane.runtime.providers.values()) {
    out[p.name] = {
      outstanding: p.outstanding,
      limiterActive: p.limiter?.active ?? 0,
      limiterQueued: p.limiter?.queued ?? 0,
      probing: p.endpoints.list.some((e) => e.breaker.probing),
    };
  }
  return { providers: out, upstreamOpen: up.activeResponses() };
}

const AT_REST = {
  providers: Object.fromEntries(
    ['openai', 'anthropic', 'gemini', 'bedrock'].map((n) => [
      n,
      { outstanding: 0, limiterActive: 0, limiterQueued: 0, probing: false },
    ]),
  ),
  upstreamOpen: 0,
};

async function expectAtRest(): Promise<void> {
  const deadline = Date.now() + 8000;
  while (Date.now() < deadline && JSON.stringify(slots()) !== JSON.stringify(AT_REST))
    await new Promise((r) => setTimeout(r, 10));
  expect(slots()).toEqual(AT_REST);
}

/** Every sample of the token and cost metrics is a finite, non-negative number; returns tenant t's tokens. */
async function meteredTokens(): Promise<number> {
  const text = await (await fetch(`${dp.adminUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('sluice_tokens_total{') && !line.startsWith('sluice_cost_usd_total{')) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    expect(Number.isFinite(v) && v >= 0, line).toBe(true);
    expect(v, line).toBeLessThan(1e12);
    if (
      line.startsWith('sluice_tokens_total{') &&
      line.includes('namespace="t"') &&
      /type="(input|output)"/.test(line)
    )
      sum += v;
  }
  return sum;
}

function windowUsed(): number {
  const store = dp.dataplane.runtime.gate.records as MemoryStore;
  return store.peek(`{t}:tok:total:${windowSpan('month', Date.now()).id}`) ?? 0;
}

afterEach(async () => {
  await expectAtRest();
  expect(windowUsed()).toBe(await meteredTokens());
  // the debug-level log lines written so far hold no credential
  const logs = readFileSync(logFile, 'utf8');
  expect(logs.length).toBeGreaterThan(0);
  for (const s of SECRETS) expect(logs.includes(s), `a credential in the logs: ${s}`).toBe(false);
});

describe.each(CASES)('%s client, %s backend', (client, backend) => {
  const wire = wireFor(client, backend);
  for (const stream of client === 'embeddings' ? [false] : [false, true]) {
    it(`${stream ? 'streamed' : 'whole'}: a translation or a documented error, slots back, sane usage`, async () => {
      await fc.assert(
        fc.asyncProperty(plan, async (p) => {
          up.setScript((credential) => script(p, wire, backend, stream, credential));
          const a = await reachingUpstream(client, backend, stream);
          expectDocumented(client, stream, a);
          // the connection was fine: an answer Sluice cannot read is not a connection failure
          if (p.kind !== 'answer' || !p.reset) {
            expect(a.code, a.text).not.toBe('SLUICE_ERR_UPSTREAM_CONNECT');
            expect(a.text).not.toMatch(/connection failed/);
          }
          await expectAtRest();
        }),
        { numRuns: RUNS, ...REPLAY },
      );
    });
  }
});

describe('an upstream event that never ends', () => {
  it.each([
    ['chat', 'openai'],
    ['messages', 'anthropic'],
    ['chat', 'gemini'],
  ] as const)(
    '%s on %s: 502 SLUICE_ERR_RESPONSE_TOO_LARGE past 16 MiB, not buffered until the timeout',
    async (client, backend) => {
      const piece = Buffer.alloc(256 * 1024, 'a'.charCodeAt(0));
      up.setScript(() => ({
        status: 200,
        headers: { 'content-type': 'text/event-stream' },
        reads: [Buffer.from('data: {"x":"'), ...Array.from({ length: 80 }, () => piece)],
      }));
      const a = await ask(client, backend, true);
      expect([a.status, a.code], a.text.slice(0, 300)).toEqual([502, 'SLUICE_ERR_RESPONSE_TOO_LARGE']);
      await expectAtRest();
    },
  );
});
