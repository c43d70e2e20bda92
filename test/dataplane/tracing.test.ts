// OpenTelemetry traces from a real `sluice serve` to a real OpenTelemetry Collector: one server span per
// request, one client span per upstream attempt (a fallback and a retry each show as their own span),
// the client's W3C trace context continued and passed to the provider, GenAI attributes, error status,
// the time-to-first-token event on streams, content only where a policy opts in (and redacted).
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import {
  configDir,
  type DataplaneProcess,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';
import {
  type Collector,
  type FlatSpan,
  SPAN_KIND,
  STATUS,
  startCollector,
} from '../helpers/otel_collector.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';
import { sha256 } from '../policy/fixtures.ts';

let collector: Collector;
let fake: FakeOpenAI;
let cfg: TestConfigDir;
let dp: DataplaneProcess;

const hex = (bytes: number) =>
  Array.from({ length: bytes }, () =>
    Math.floor(Math.random() * 256)
      .toString(16)
      .padStart(2, '0'),
  ).join('');

/** A client-side trace context: W3C traceparent (sampled) and a vendor tracestate. */
function clientContext() {
  const traceId = hex(16);
  const parentId = hex(8);
  return { traceId, parentId, traceparent: `00-${traceId}-${parentId}-01`, tracestate: 'acme=t61rcWkgMzE' };
}

function tracingConfig(extra: Record<string, unknown> = {}) {
  return {
    enabled: true,
    endpoint: collector.endpoint,
    // these callers are trusted to continue their traces (the default links them: request_ids.test.ts)
    clientTraceContext: 'parent',
    samplingRatio: 1,
    serviceName: 'sluice-test',
    resourceAttributes: { 'deployment.environment.name': 'test' },
    ...extra,
  };
}

function config(tracing: Record<string, unknown>) {
  return {
    server: { tracing },
    providers: [
      {
        name: 'upstream',
        type: 'openai',
        baseUrl: `${fake.url}/v1`,
        credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
        circuitBreaker: { consecutiveFailures: 1000 },
      },
      {
        name: 'mock',
        type: 'mock',
        models: [{ name: 'mock-small' }],
        mock: { outputTokens: 12, chunkTokens: 2, chunkDelayMs: 2, latencyMs: 5 },
      },
    ],
    routes: [
      {
        name: 'flaky',
        match: { models: ['flaky-model'] },
        backends: [{ provider: 'upstream' }],
        fallback: [{ provider: 'mock', model: 'mock-small' }],
        retry: { attempts: 1, baseDelayMs: 1 },
      },
      {
        name: 'retried',
        match: { models: ['retry-model'] },
        backends: [{ provider: 'upstream' }],
        retry: { attempts: 2, baseDelayMs: 1 },
      },
      {
        name: 'broken',
        match: { models: ['broken-model'] },
        backends: [{ provider: 'upstream' }],
        retry: { attempts: 0 },
      },
      { name: 'chat', match: { models: ['mock-small'] }, backends: [{ provider: 'mock' }] },
    ],
    namespaces: [
      { name: 'open', default: true },
      {
        name: 'audited',
        match: { apiKeys: [{ name: 'a', sha256: sha256('sk-audited') }] },
        policies: ['record'],
      },
    ],
    policies: [{ name: 'record', traceContent: true }],
  };
}

async function post(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await fetch(`${dp.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

const hello = [{ role: 'user', content: 'hello' }];
const server = (spans: FlatSpan[]) => spans.filter((s) => s.kind === SPAN_KIND.SERVER);
const clients = (spans: FlatSpan[]) => spans.filter((s) => s.kind === SPAN_KIND.CLIENT);
const upstreamCalls = (model: string) => fake.requests.filter((r) => r.body?.model === model);

beforeAll(async () => {
  collector = await startCollector();
  fake = await startFakeOpenAI({ name: 'upstream', apiKey: UPSTREAM_KEY });
  let retryCalls = 0;
  fake.setFault((req) => {
    const model = req.body?.model;
    if (model === 'flaky-model') return { status: 503 };
    if (model === 'broken-model') return { status: 500 };
    // the first try of each retried request fails with a 429, the retry succeeds
    if (model === 'retry-model') return retryCalls++ % 2 === 0 ? { status: 429 } : { tokens: 5 };
    return {};
  });
  cfg = configDir(config(tracingConfig()));
  dp = await spawnDataplane(cfg.file, {}, 60_000);
  await waitForLog('tracing on');
}, 120_000);

afterAll(async () => {
  await dp?.stop();
  await collector?.stop();
  await fake?.close();
  cfg?.cleanup();
});

async function waitForLog(text: string): Promise<void> {
  for (let i = 0; i < 300 && !dp.logs.some((l) => l.includes(text)); i++)
    await new Promise((r) => setTimeout(r, 100));
  expect(
    dp.logs.some((l) => l.includes(text)),
    dp.logs.join(''),
  ).toBe(true);
}

// each test may wait up to 30 s for its spans on a loaded machine
describe('tracing through a fallback', { timeout: 90_000 }, () => {
  it('continues the client trace: a server span and one client span per attempt, the failed one in error', async () => {
    const ctx = clientContext();
    const r = await post(
      { model: 'flaky-model', messages: hello },
      { traceparent: ctx.traceparent, tracestate: ctx.tracestate },
    );
    expect(r.status).toBe(200);
    const spans = await collector.trace(ctx.traceId, 3);
    const [srv] = server(spans);
    expect(srv).toBeDefined();
    expect(srv?.parentSpanId).toBe(ctx.parentId);
    expect(srv?.traceState).toBe(ctx.tracestate);
    expect(srv?.name).toBe('chat flaky-model');
    expect(srv?.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'flaky-model',
      'gen_ai.response.model': 'mock-small',
      'gen_ai.provider.name': 'mock',
      'gen_ai.usage.input_tokens': expect.any(Number),
      'gen_ai.usage.output_tokens': 12,
      'gen_ai.response.finish_reasons': ['stop'],
      'http.response.status_code': 200,
      'sluice.route': 'flaky',
      'sluice.namespace': 'open',
      'sluice.attempts': 2,
    });
    expect(srv?.status.code).not.toBe(STATUS.ERROR);
    expect(srv?.resource).toMatchObject({
      'service.name': 'sluice-test',
      'deployment.environment.name': 'test',
    });

    const [first, second] = clients(spans).sort(
      (a, b) => Number(a.attributes['sluice.attempt.try']) - Number(b.attributes['sluice.attempt.try']),
    );
    for (const c of [first, second]) expect(c?.parentSpanId).toBe(srv?.spanId);
    expect(first?.name).toBe('chat flaky-model');
    expect(first?.attributes).toMatchObject({
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'flaky-model',
      'sluice.provider': 'upstream',
      'sluice.fallback': false,
      'http.response.status_code': 503,
      'error.type': '503',
      'server.address': '127.0.0.1',
    });
    expect(first?.status.code).toBe(STATUS.ERROR);
    expect(second?.name).toBe('chat mock-small');
    expect(second?.attributes).toMatchObject({
      'sluice.provider': 'mock',
      'sluice.fallback': true,
      'gen_ai.usage.output_tokens': 12,
    });
    expect(second?.status.code).not.toBe(STATUS.ERROR);
    expect(second?.attributes['error.type']).toBeUndefined();

    // the provider got the trace context of the attempt that called it, with the client's tracestate
    const call = upstreamCalls('flaky-model').at(-1);
    expect(call?.headers.traceparent).toBe(`00-${ctx.traceId}-${first?.spanId}-01`);
    expect(call?.headers.tracestate).toBe(ctx.tracestate);
  });
});

// each test may wait up to 30 s for its spans on a loaded machine
describe('tracing through a retry', { timeout: 90_000 }, () => {
  it('shows the 429 and the retry as two client spans, each sent with its own traceparent', async () => {
    const ctx = clientContext();
    const before = upstreamCalls('retry-model').length;
    const r = await post({ model: 'retry-model', messages: hello }, { traceparent: ctx.traceparent });
    expect(r.status).toBe(200);
    const spans = await collector.trace(ctx.traceId, 3);
    const srv = server(spans)[0];
    const attempts = clients(spans).sort(
      (a, b) => Number(a.attributes['sluice.attempt.try']) - Number(b.attributes['sluice.attempt.try']),
    );
    expect(attempts.map((a) => a.attributes['http.response.status_code'])).toEqual([429, 200]);
    expect(attempts.map((a) => a.status.code === STATUS.ERROR)).toEqual([true, false]);
    expect(attempts.every((a) => a.parentSpanId === srv?.spanId)).toBe(true);
    expect(srv?.attributes['sluice.attempts']).toBe(2);
    const calls = upstreamCalls('retry-model').slice(before);
    expect(calls.map((c) => c.headers.traceparent)).toEqual(
      attempts.map((a) => `00-${ctx.traceId}-${a.spanId}-01`),
    );
  });
});

// each test may wait up to 30 s for its spans on a loaded machine
describe('errors, streams and content', { timeout: 90_000 }, () => {
  it('a failed request is an error span with error.type', async () => {
    const ctx = clientContext();
    const r = await post({ model: 'broken-model', messages: hello }, { traceparent: ctx.traceparent });
    expect(r.status).toBe(502);
    const spans = await collector.trace(ctx.traceId, 2);
    const srv = server(spans)[0];
    expect(srv?.status.code).toBe(STATUS.ERROR);
    expect(srv?.attributes).toMatchObject({
      'error.type': 'SLUICE_ERR_UPSTREAM_ERROR',
      'http.response.status_code': 502,
    });
    expect(clients(spans)[0]?.attributes).toMatchObject({
      'http.response.status_code': 500,
      'error.type': '500',
    });
  });

  it('a stream carries the time-to-first-token event on its server and client spans', async () => {
    const ctx = clientContext();
    const r = await post(
      { model: 'mock-small', stream: true, messages: hello },
      { traceparent: ctx.traceparent },
    );
    expect(r.status).toBe(200);
    expect(r.text).toContain('data: [DONE]');
    const spans = await collector.trace(ctx.traceId, 2);
    for (const s of spans) {
      const ev = s.events.find((e) => e.name === 'gen_ai.first_token');
      expect(ev, s.name).toBeDefined();
      expect(Number(ev?.attributes['gen_ai.server.time_to_first_token'])).toBeGreaterThan(0);
    }
    expect(server(spans)[0]?.attributes['sluice.stream']).toBe(true);
  });

  it('records no prompt or answer unless the namespace policy opts in, and then redacts secrets', async () => {
    const secretPrompt = [{ role: 'user', content: `my key is ${UPSTREAM_KEY}, tell me a joke` }];
    const plain = clientContext();
    await post({ model: 'mock-small', messages: secretPrompt }, { traceparent: plain.traceparent });
    const audited = clientContext();
    await post(
      { model: 'mock-small', messages: secretPrompt },
      { traceparent: audited.traceparent, authorization: 'Bearer sk-audited' },
    );
    const plainSpans = await collector.trace(plain.traceId, 2);
    for (const s of plainSpans) {
      expect(s.attributes['gen_ai.input.messages']).toBeUndefined();
      expect(s.attributes['gen_ai.output.messages']).toBeUndefined();
    }
    const auditedSpans = await collector.trace(audited.traceId, 2);
    const srv = server(auditedSpans)[0];
    expect(srv?.attributes['sluice.namespace']).toBe('audited');
    const input = String(srv?.attributes['gen_ai.input.messages']);
    expect(input).toContain('tell me a joke');
    expect(input).not.toContain(UPSTREAM_KEY);
    const output = String(clients(auditedSpans)[0]?.attributes['gen_ai.output.messages']);
    expect(output).toContain('chat.completion');
    expect(JSON.stringify(auditedSpans)).not.toContain(UPSTREAM_KEY);
  });

  it('records a streamed answer as the text the client received, where the policy opts in', async () => {
    const audited = clientContext();
    const r = await post(
      { model: 'mock-small', stream: true, messages: hello },
      { traceparent: audited.traceparent, authorization: 'Bearer sk-audited' },
    );
    expect(r.status).toBe(200);
    const delivered = r.text
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => (JSON.parse(l.slice(6)) as { choices: Array<{ delta?: { content?: string } }> }).choices)
      .map((c) => c[0]?.delta?.content ?? '')
      .join('');
    expect(delivered.length).toBeGreaterThan(0);
    const spans = await collector.trace(audited.traceId, 2);
    expect(clients(spans)[0]?.attributes['gen_ai.output.messages']).toBe(delivered);
  });
});

// each test may wait up to 30 s for its spans on a loaded machine
describe('export settings', { timeout: 90_000 }, () => {
  it('sends the configured headers (from the environment) with each OTLP/protobuf export', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const sink = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on('end', () => res.writeHead(200).end());
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(sink.address() as { port: number }).port}/v1/traces`;
    const other = configDir(
      config(tracingConfig({ endpoint: url, headers: { authorization: { env: 'OTLP_AUTH' } } })),
    );
    const second = await spawnDataplane(other.file, { OTLP_AUTH: 'Bearer otlp-token-1' }, 60_000);
    try {
      for (let i = 0; i < 300 && !second.logs.some((l) => l.includes('tracing on')); i++)
        await new Promise((r) => setTimeout(r, 100));
      await fetch(`${second.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'mock-small', messages: hello }),
      }).then((r) => r.text());
    } finally {
      await second.stop(); // shutdown exports what is buffered
      other.cleanup();
      await new Promise((r) => sink.close(r));
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[0]?.authorization).toBe('Bearer otlp-token-1');
    expect(seen[0]?.['content-type']).toBe('application/x-protobuf');
  });

  it('samples new traces at the configured ratio but follows a sampled client trace', async () => {
    cfg.write(config(tracingConfig({ samplingRatio: 0 })));
    for (let i = 0; i < 300 && dp.logs.filter((l) => l.includes('tracing on')).length < 2; i++)
      await new Promise((r) => setTimeout(r, 100));
    const before = collector.spans.length;
    const ctx = clientContext();
    await post({ model: 'mock-small', messages: hello }); // a new trace: not sampled at 0
    // a malformed traceparent is no parent: it cannot force a trace to be recorded
    await post({ model: 'mock-small', messages: hello }, { traceparent: '00-zzzz-not-a-trace-01' });
    await post({ model: 'mock-small', messages: hello }, { traceparent: ctx.traceparent });
    const spans = await collector.trace(ctx.traceId, 2);
    expect(spans).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 1_500)); // one more export interval
    const others = collector.spans.slice(before).filter((s) => s.traceId !== ctx.traceId);
    expect(others).toEqual([]);
  });
});

describe('tracing off', () => {
  // reports every module specifier under @opentelemetry the process resolves (module.registerHooks)
  const HOOK =
    "data:text/javascript,import{registerHooks}from'node:module';registerHooks({resolve(s,c,n){if(s.includes('@opentelemetry'))process.stderr.write('OTEL-LOADED%20'+s+'\\n');return%20n(s,c)}})";

  async function loadedOtel(tracing: Record<string, unknown> | undefined): Promise<string[]> {
    const dir = configDir({ ...config(tracing ?? { enabled: false }) });
    const proc = await spawnDataplane(dir.file, { NODE_OPTIONS: `--import ${HOOK}` }, 60_000);
    try {
      for (let i = 0; i < 300 && tracing && !proc.logs.some((l) => l.includes('tracing on')); i++)
        await new Promise((r) => setTimeout(r, 100));
      const res = await fetch(`${proc.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: clientContext().traceparent },
        body: JSON.stringify({ model: 'mock-small', messages: hello }),
      });
      expect(res.status).toBe(200);
      await res.text();
    } finally {
      await proc.stop();
      dir.cleanup();
    }
    return proc.logs.filter((l) => l.includes('OTEL-LOADED'));
  }

  it('loads none of the OpenTelemetry SDK, even for a request carrying a traceparent', async () => {
    // prom-client's process CPU metric looks for @opentelemetry/api (exemplars) when it is installed:
    // the API alone is a small no-op facade; the SDK, exporter and protobuf code stay unloaded
    const loaded = await loadedOtel(undefined);
    expect(loaded.filter((l) => l.trim() !== 'OTEL-LOADED @opentelemetry/api')).toEqual([]);
    // the probe sees the packages when tracing is on, so the empty list above means something
    expect((await loadedOtel(tracingConfig())).join('')).toContain('@opentelemetry/sdk-trace');
  }, 180_000);
});
