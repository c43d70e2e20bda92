// Ready means warm, part two: before the replica listens, requests go through the real Fastify
// instance (routing, hooks, the intake, body parsing, the pipeline, admission, the translators, the
// reply) for every client API and every backend API the config uses. A fresh replica otherwise paid
// for all of that lazily on its first real requests (p50 268 ms in its first second under load).
//
// What keeps it private: the requests run on a warm-up runtime of their own (a namespace, policy and
// in-memory store of their own, one provider per configured provider type whose transport is the
// in-process WarmUpstream), never on the tenants' runtime. So no tenant's limits, budgets or Redis
// keys move and no upstream sees a request. The requests are injected before the port listens, so
// no client can reach the warm-up runtime; their metric series are removed afterwards, their access
// lines are held back (dataplane.ts lowers the API server's log to warn meanwhile; a failure still
// logs, labelled reqId sluice-warmup-N) and tracing is applied only after the warm-up.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { clientApis } from '../api/registry.ts';
import type { ClientApiSpec } from '../api/types.ts';
import { validateConfig } from '../config/load.ts';
import type { SluiceConfig } from '../config/schema.ts';
import { metrics } from '../observability/metrics.ts';
import { createPolicyGate } from '../policy/gate.ts';
import { pickerSettings } from '../proxy/endpoint_picker.ts';
import { EndpointSet } from '../proxy/endpoints.ts';
import { MockTransport } from '../proxy/mock_transport.ts';
import { Redactor } from '../security/redactor.ts';
import { StoreRegistry } from '../store/registry.ts';
import { effectiveTimeouts, makeSecretReader, type Runtime, resolveProvider } from './compile.ts';
import { ProviderRuntime } from './provider_runtime.ts';
import { compileRoute } from './route.ts';
import { WARM_TEXT, WarmUpstream } from './warm_upstream.ts';

export const WARM_PREFIX = 'sluice-warmup';
const WARM_MODEL = `${WARM_PREFIX}-model`;
const CREDENTIAL_ENV = 'SLUICE_WARMUP_CREDENTIAL';

export interface HotPathReport {
  /** requests sent through the API and how many were answered as expected */
  requests: number;
  ok: number;
  /** client API -> backend API pairs exercised, e.g. openai-chat->anthropic */
  pairs: string[];
  /** rounds over every pair, and the CPU time each took (falling as V8 compiles the path) */
  rounds: number;
  roundCpuMs: number[];
  ms: number;
  /** what went wrong (the replica becomes ready anyway: a cold replica beats no replica) */
  failures?: string[];
}

export interface WarmRuntime {
  runtime: Runtime;
  /** the key the warm-up namespace matches (random per process, never written anywhere) */
  key: string;
  upstreams: WarmUpstream[];
  close(): Promise<void>;
}

/** One warm-up provider and route per provider type the config uses (they differ in wire format and quirks). */
function warmConfigInput(real: SluiceConfig, keyDigest: string): unknown {
  const byType = new Map<string, SluiceConfig['providers'][number]>();
  for (const p of real.providers) if (!byType.has(p.type)) byType.set(p.type, p);
  const providers = [...byType.values()].map((p) => ({
    name: `${WARM_PREFIX}-${p.type}`,
    type: p.type,
    // the real provider's addressing (validated: set wherever its preset needs it), only used to build
    // request paths: the transport never opens a connection
    baseUrl: p.baseUrl,
    apiVersion: p.apiVersion,
    region: p.region,
    credentials: Object.fromEntries(
      ['apiKey', 'accessKeyId', 'secretAccessKey'].map((k) => [k, { env: CREDENTIAL_ENV }]),
    ),
    models: [{ name: WARM_MODEL, pricing: { inputPerMTok: 1, outputPerMTok: 1 } }],
  }));
  const routes = providers.map((p) => ({
    name: p.name,
    match: { models: [p.name] },
    backends: [{ provider: p.name, model: WARM_MODEL }],
    retry: { attempts: 0 },
  }));
  return {
    access: 'tenants',
    server: real.server,
    store: { type: 'memory' },
    cache: real.cache,
    responses: real.responses,
    providers,
    routes,
    namespaces: [
      {
        name: WARM_PREFIX,
        match: { apiKeys: [{ name: WARM_PREFIX, sha256: keyDigest }] },
        policies: [WARM_PREFIX],
      },
    ],
    // limits of every kind, so admission's counting and charging code runs (on the private store)
    policies: [
      {
        name: WARM_PREFIX,
        requests: { limit: 1_000_000, window: 'minute' },
        tokens: [{ limit: 1_000_000_000, window: 'minute' }],
        budget: { usd: 1_000_000, window: 'day' },
        concurrency: { max: 1_000 },
      },
    ],
  };
}

/** The warm-up runtime, built like a real one (compile.ts) but sharing nothing with it. */
export async function buildWarmRuntime(real: SluiceConfig): Promise<WarmRuntime> {
  const key = randomBytes(24).toString('base64url');
  const digest = createHash('sha256').update(key).digest('hex');
  const config = validateConfig(warmConfigInput(real, digest), 'warm-up');
  const readSecret = makeSecretReader('/', { [CREDENTIAL_ENV]: 'warm-up-not-a-credential' });
  const providers = new Map<string, ProviderRuntime>();
  const upstreams: WarmUpstream[] = [];
  config.providers.forEach((p, i) => {
    const resolved = resolveProvider(p, i, readSecret);
    const mock =
      resolved.preset.transport === 'mock'
        ? new MockTransport({
            latencyMs: 0,
            chunkDelayMs: 0,
            outputTokens: 4,
            chunkTokens: 1,
            text: 'Warming up.',
          })
        : undefined;
    const upstream = new WarmUpstream(resolved.preset.api, WARM_MODEL, mock);
    upstreams.push(upstream);
    const endpoints = new EndpointSet({
      provider: p.name,
      transport: () => upstream,
      breaker: { consecutiveFailures: 1_000, baseEjectionMs: 1, maxEjectionMs: 1 },
      picker: pickerSettings(undefined),
      // no sluice_circuit_state series for a provider nobody configured
      reportCircuit: false,
    });
    endpoints.setOrigins([resolved.origin]);
    const timeouts = effectiveTimeouts(config.server.timeouts);
    providers.set(p.name, new ProviderRuntime(resolved, timeouts, endpoints));
  });
  const routes = config.routes.map((r) => compileRoute(r, providers));
  const gate = await createPolicyGate(config, readSecret, new StoreRegistry());
  const runtime: Runtime = {
    config,
    hash: WARM_PREFIX,
    providers,
    routes,
    gate,
    secretsDir: '/',
    secretFiles: [],
    redactor: new Redactor(),
  };
  return { runtime, key, upstreams, close: () => gate.close() };
}

/** A prompt with the shapes real ones have (words, numbers, code, CJK), so every BPE path runs. */
export const WARM_PROMPT = `Summarise the quarterly report for 2024: revenue rose 12.5% to $4,210,000.
function add(a, b) { return a + b; } // code, punctuation, "quotes" and émojis 🚀
日本語のテキストも含まれます。`;
const TOOL = {
  type: 'function',
  function: { name: 'lookup', description: 'd', parameters: { type: 'object' } },
};

/** A realistic body for each client API (tools only where the provider takes them). */
function bodyFor(
  spec: ClientApiSpec,
  model: string,
  stream: boolean,
  tools: boolean,
): Record<string, unknown> {
  switch (spec.api) {
    case 'openai-chat':
      return {
        model,
        stream,
        ...(stream ? { stream_options: { include_usage: true } } : {}),
        max_tokens: 16,
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: [{ type: 'text', text: WARM_PROMPT }] },
        ],
        ...(tools ? { tools: [TOOL] } : {}),
      };
    case 'openai-completions':
      return { model, stream, max_tokens: 16, prompt: WARM_PROMPT };
    case 'openai-embeddings':
      return { model, input: [WARM_PROMPT, 'second input'] };
    case 'anthropic-messages':
      return {
        model,
        stream,
        max_tokens: 16,
        system: 'You are terse.',
        messages: [{ role: 'user', content: WARM_PROMPT }],
      };
    case 'openai-responses':
      return { model, stream, max_output_tokens: 16, instructions: 'You are terse.', input: WARM_PROMPT };
  }
}

interface Exchange {
  spec: ClientApiSpec;
  route: string;
  pair: string;
  stream: boolean;
  tools: boolean;
}

/** Every (client API, provider) pair the warm-up runtime serves, whole and (where it exists) streamed. */
function exchanges(rt: Runtime): Exchange[] {
  const out: Exchange[] = [];
  for (const provider of rt.providers.values()) {
    const unsupported = provider.resolved.preset.quirks?.unsupported ?? [];
    for (const spec of clientApis) {
      if (!provider.translators[spec.api]) continue;
      if (spec.api === 'openai-embeddings' && unsupported.includes('embeddings')) continue;
      if (spec.api === 'openai-completions' && unsupported.includes('completions')) continue;
      const pair = `${spec.api}->${provider.resolved.preset.api}`;
      const tools = !unsupported.includes('tools');
      for (const stream of spec.api === 'openai-embeddings' ? [false] : [false, true])
        out.push({ spec, route: provider.name, pair, stream, tools });
    }
  }
  return out;
}

/**
 * A 200 whose body carries the canned answer and no error (a stream that failed after its headers
 * still says 200), so a translator that drops the answer fails the warm-up instead of passing it.
 */
function problemOf(x: Exchange, status: number, body: string): string | undefined {
  if (status !== 200) return `status ${status}: ${body.slice(0, 200)}`;
  if (/"type":"error"|event: error|"error":\{/.test(body))
    return `error in the answer: ${body.slice(0, 200)}`;
  if (x.spec.api === 'openai-embeddings' ? !body.includes('embedding') : !body.includes(WARM_TEXT))
    return `the answer is missing: ${body.slice(0, 200)}`;
  return undefined;
}

/**
 * One warm-up request through the API server; the problem with its answer, if any. A request still
 * running when its time is up is left to finish on the warm-up runtime its intake captured (nothing
 * else can reach that runtime); past a 5 s stall its metric series may outlive the clean-up.
 */
async function sendOne(app: FastifyInstance, warm: WarmRuntime, x: Exchange, n: number, leftMs: number) {
  let timer: NodeJS.Timeout | undefined;
  try {
    const res = await Promise.race([
      app.inject({
        method: 'POST',
        url: x.spec.path,
        headers: {
          authorization: `Bearer ${warm.key}`,
          'content-type': 'application/json',
          'anthropic-version': '2023-06-01',
          'x-request-id': `${WARM_PREFIX}-${n}`,
        },
        payload: JSON.stringify(bodyFor(x.spec, x.route, x.stream, x.tools)),
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(leftMs)} ms`)), leftMs);
      }),
    ]);
    return problemOf(x, res.statusCode, res.body);
  } catch (err) {
    return (err as Error).message;
  } finally {
    clearTimeout(timer);
  }
}

export interface HotPathOptions {
  /** at least this many rounds over every pair (the first ones compile, the next ones optimise) */
  minRounds: number;
  maxRounds: number;
  deadlineMs: number;
}

/**
 * Sends the warm-up requests through `app` (the API server, not yet listening) while the dataplane
 * points it at the warm-up runtime, in rounds over every pair until a round costs (in CPU time) less
 * than 10% under the cheapest round before it: then V8 has compiled the path with real feedback and
 * more rounds only delay readiness. Measured on the mock and Anthropic pairs: round CPU 103, 85, 27,
 * 19, 16, 16 ms, then ~12 ms from round 20 on. Bounded by `deadlineMs`: past it nothing more is
 * sent and the report says so.
 */
export async function exerciseHotPath(
  app: FastifyInstance,
  warm: WarmRuntime,
  opts: HotPathOptions,
): Promise<HotPathReport> {
  const t0 = performance.now();
  const list = exchanges(warm.runtime);
  const failures: string[] = [];
  const pairs = new Set<string>();
  const roundCpuMs: number[] = [];
  let requests = 0;
  let ok = 0;
  outer: for (let round = 0; round < opts.maxRounds; round++) {
    const cpu0 = process.cpuUsage();
    for (const x of list) {
      const left = opts.deadlineMs - (performance.now() - t0);
      if (left <= 0) {
        failures.push(`deadline of ${opts.deadlineMs} ms passed after ${requests} requests`);
        break outer;
      }
      const problem = await sendOne(app, warm, x, ++requests, left);
      if (problem) failures.push(`${x.pair}${x.stream ? ' (stream)' : ''}: ${problem}`);
      else {
        ok++;
        pairs.add(x.pair);
      }
    }
    const used = process.cpuUsage(cpu0);
    const ms = Math.round((used.user + used.system) / 100) / 10;
    const cheapest = Math.min(...roundCpuMs);
    roundCpuMs.push(ms);
    if (failures.length || (round + 1 >= opts.minRounds && ms > 0.9 * cheapest)) break;
  }
  for (const u of warm.upstreams) failures.push(...u.problems);
  await dropWarmSeries(new Set([WARM_PREFIX, WARM_MODEL, ...warm.runtime.providers.keys()]));
  const ms = Math.round(performance.now() - t0);
  const report: HotPathReport = {
    requests,
    ok,
    pairs: [...pairs].sort(),
    rounds: roundCpuMs.length,
    roundCpuMs,
    ms,
  };
  // a bounded list: one broken translator would otherwise repeat its failure every round
  if (failures.length) report.failures = [...new Set(failures)].slice(0, 10);
  return report;
}

interface RemovableMetric {
  get(): unknown;
  remove?(labels: Record<string, string>): void;
  removeWhere?(drop: (labels: Record<string, string>) => boolean): void;
}

/**
 * Removes every metric series the warm-up created (any label value naming one of its routes,
 * providers, namespace or model), so dashboards and alerts see only real traffic.
 */
export async function dropWarmSeries(names: ReadonlySet<string>): Promise<void> {
  const isWarm = (labels: Record<string, string | number>) =>
    Object.values(labels).some((v) => names.has(String(v)));
  for (const m of Object.values(metrics) as RemovableMetric[]) {
    if (m.removeWhere) m.removeWhere(isWarm);
    else if (m.remove) {
      // prom-client's own counters and gauges: read their series back, remove the warm-up's
      const { values } = (await m.get()) as { values: Array<{ labels: Record<string, string> }> };
      for (const { labels } of values) if (isWarm(labels)) m.remove(labels);
    }
  }
}
