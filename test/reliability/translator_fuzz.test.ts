// Hostile input at every field of every client API, through every translator, against a real
// `sluice serve` process and the validating fake upstreams (OpenAI, Anthropic, Gemini, Bedrock).
// A valid, feature-rich body per client API gets one to three mutations (a hostile value at any path,
// a deleted field, an added key named like an Object.prototype member or duplicating one), whole and
// streamed. Every answer must be a 200 or a documented 4xx in the client API's error shape; a request
// a translator built must never be refused by the fake that checks its provider's wire format; the
// process never dies and keeps answering a healthy request sent alongside every hostile one.
// fast-check picks a new seed each run and prints it on failure (replay: `{ seed, path }` in fc.assert).
import { appendFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS, type ErrorCode } from '../../dataplane/src/errors.ts';
import { anthropicErrorType } from '../../dataplane/src/wire/anthropic/error.ts';
import { type FakeAnthropic, startFakeAnthropic } from '../fakes/anthropic.ts';
import { type FakeBedrock, startFakeBedrock } from '../fakes/bedrock.ts';
import { type FakeGemini, startFakeGemini } from '../fakes/gemini.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { type FakeAgentic, startFakeAgentic } from '../fakes/openai_agentic.ts';
import {
  configDir,
  type DataplaneProcess,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';
import {
  ANTHROPIC_FIELDS,
  chatBody,
  completionsBody,
  countTokensBody,
  embeddingsBody,
  messagesBody,
  OPENAI_FIELDS,
  RESPONSES_FIELDS,
  responsesBody,
} from './fuzz_bodies.ts';
import { applyMutations, type Mutation, mutationOf } from './hostile_json.ts';

const AWS = { accessKeyId: 'AKIAFUZZTRANSLATOR1', secretAccessKey: 'fuzz/translator/secret' };
/** fast-check runs per property; FUZZ_RUNS raises it for local bug hunts (the file stays < ~20 s in CI) */
const RUNS = Number(process.env.FUZZ_RUNS ?? 0) || undefined;

let dp: DataplaneProcess;
let cfg: TestConfigDir;
let openai: FakeOpenAI;
let agentic: FakeAgentic;
let anthropic: FakeAnthropic;
let gemini: FakeGemini;
let bedrock: FakeBedrock;

/**
 * client-facing model -> the provider family behind it. `oa` is the plain OpenAI fake (chat,
 * completions, embeddings); `ag` the agentic one, which checks roles, item types and that every tool
 * result answers an earlier call, for chat and the Responses API (an `openai` provider gets the
 * Responses API natively); `vl` the same fake as a vLLM provider, so Responses goes through chat.
 */
const BACKENDS = {
  oa: 'openai',
  ag: 'openai',
  vl: 'openai',
  an: 'anthropic',
  ge: 'gemini',
  bd: 'bedrock',
} as const;
type Backend = (typeof BACKENDS)[keyof typeof BACKENDS];
type Model = keyof typeof BACKENDS;

beforeAll(async () => {
  openai = await startFakeOpenAI({ name: 'oa', apiKey: process.env.SLUICE_TEST_KEY });
  agentic = await startFakeAgentic(process.env.SLUICE_TEST_KEY as string);
  anthropic = await startFakeAnthropic({ apiKey: process.env.SLUICE_TEST_KEY });
  gemini = await startFakeGemini({ apiKey: process.env.SLUICE_TEST_KEY as string });
  bedrock = await startFakeBedrock({ ...AWS, region: 'us-east-1' });
  const key = { apiKey: { env: 'SLUICE_TEST_KEY' } };
  cfg = configDir({
    server: { bodyLimitBytes: 512 * 1024, requestReceiveTimeoutMs: 5000 },
    providers: [
      { name: 'oa', type: 'openai', baseUrl: `${openai.url}/v1`, credentials: key },
      { name: 'ag', type: 'openai', baseUrl: `${agentic.url}/v1`, credentials: key },
      { name: 'vl', type: 'vllm', baseUrl: `${agentic.url}/v1`, credentials: key },
      { name: 'an', type: 'anthropic', baseUrl: anthropic.url, credentials: key },
      { name: 'ge', type: 'gemini', baseUrl: gemini.url, credentials: key },
      {
        name: 'bd',
        type: 'bedrock',
        region: 'us-east-1',
        baseUrl: bedrock.url,
        credentials: {
          accessKeyId: { env: 'SLUICE_FUZZ_AWS_ID' },
          secretAccessKey: { env: 'SLUICE_FUZZ_AWS_SECRET' },
        },
      },
      { name: 'mock', type: 'mock', mock: { outputTokens: 3 } },
    ],
    routes: [
      { name: 'oa', match: { models: ['oa'] }, backends: [{ provider: 'oa', model: 'gpt-4o-mini' }] },
      { name: 'ag', match: { models: ['ag'] }, backends: [{ provider: 'ag', model: 'gpt-4o' }] },
      { name: 'vl', match: { models: ['vl'] }, backends: [{ provider: 'vl', model: 'qwen' }] },
      { name: 'an', match: { models: ['an'] }, backends: [{ provider: 'an', model: 'claude-sonnet-4-5' }] },
      { name: 'ge', match: { models: ['ge'] }, backends: [{ provider: 'ge', model: 'gemini-2.5-flash' }] },
      {
        name: 'bd',
        match: { models: ['bd'] },
        backends: [{ provider: 'bd', model: 'anthropic.claude-sonnet-4-v1:0' }],
      },
      { name: 'healthy', match: { models: ['healthy'] }, backends: [{ provider: 'mock' }] },
    ],
  });
  dp = await spawnDataplane(cfg.file, {
    SLUICE_FUZZ_AWS_ID: AWS.accessKeyId,
    SLUICE_FUZZ_AWS_SECRET: AWS.secretAccessKey,
  });
}, 30_000);

afterAll(async () => {
  await dp?.stop();
  cfg?.cleanup();
  await Promise.all([
    openai?.close(),
    agentic?.close(),
    anthropic?.close(),
    gemini?.close(),
    bedrock?.close(),
  ]);
});

interface ClientApiCase {
  path: string;
  base: Record<string, unknown>;
  /** the backends this API reaches through a translator (its own family is a passthrough) */
  models: Model[];
  anthropicShape: boolean;
  streams: boolean;
  fields: string[];
  /** the API family whose backend gets the body as sent (upstream refusals there are the client's) */
  family: Backend;
}

const APIS: ClientApiCase[] = [
  {
    path: '/v1/chat/completions',
    base: chatBody,
    models: ['oa', 'ag', 'an', 'ge', 'bd'],
    anthropicShape: false,
    streams: true,
    family: 'openai',
    fields: OPENAI_FIELDS,
  },
  {
    path: '/v1/messages',
    base: messagesBody,
    models: ['an', 'ag', 'ge', 'bd'],
    anthropicShape: true,
    streams: true,
    family: 'anthropic',
    fields: ANTHROPIC_FIELDS,
  },
  {
    path: '/v1/messages/count_tokens',
    base: countTokensBody,
    models: ['an', 'ag'],
    anthropicShape: true,
    streams: false,
    family: 'anthropic',
    fields: ANTHROPIC_FIELDS,
  },
  {
    path: '/v1/responses',
    base: responsesBody,
    models: ['ag', 'vl', 'an', 'ge', 'bd'],
    anthropicShape: false,
    streams: true,
    family: 'openai',
    fields: [...RESPONSES_FIELDS, ...OPENAI_FIELDS],
  },
  {
    path: '/v1/completions',
    base: completionsBody,
    models: ['oa'],
    anthropicShape: false,
    streams: true,
    family: 'openai',
    fields: OPENAI_FIELDS,
  },
  {
    path: '/v1/embeddings',
    base: embeddingsBody,
    models: ['oa', 'ge'],
    anthropicShape: false,
    streams: false,
    family: 'openai',
    fields: OPENAI_FIELDS,
  },
];

interface Answer {
  status: number;
  text: string;
  headers: Headers;
}

async function post(path: string, body: string): Promise<Answer> {
  const res = await fetch(`${dp.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body,
    signal: AbortSignal.timeout(15_000), // a hang fails the case instead of the whole file
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

function expectErrorShape(api: ClientApiCase, r: Answer): void {
  const body = JSON.parse(r.text) as Record<string, unknown>;
  const error = body.error as Record<string, unknown>;
  if (api.anthropicShape) expect(body.type, r.text).toBe('error');
  expect(typeof error?.type, r.text).toBe('string');
  expect(typeof error?.message, r.text).toBe('string');
  expect((error.message as string).length, r.text).toBeGreaterThan(0);
  const code = r.headers.get('x-sluice-error-code') ?? '';
  expect(Object.keys(ERRORS), `${code}: ${r.text}`).toContain(code);
  // an upstream's own 4xx keeps its status (docs/errors.md); everything else has the documented one
  if (code === 'SLUICE_ERR_UPSTREAM_REJECTED') {
    expect(r.status, r.text).toBeLessThan(500);
    return;
  }
  const spec = ERRORS[code as ErrorCode];
  // docs/errors.md: a previous_response_id naming no stored response is 400, as OpenAI answers
  const previous = code === 'SLUICE_ERR_RESPONSE_NOT_FOUND' && error.param === 'previous_response_id';
  expect(r.status, `${code}: ${r.text}`).toBe(previous ? 400 : spec.status);
  // the error `type` the real API uses for that status (Anthropic's by status; OpenAI's by code)
  if (api.anthropicShape) expect(error.type, r.text).toBe(anthropicErrorType(r.status));
  else {
    expect(error.type, r.text).toBe(spec.type);
    // OpenAI's code for the same problem (invalid_type, ...) or Sluice's own, never another
    expect(String(error.code), r.text).toMatch(/^(SLUICE_ERR_\w+|[a-z_]+)$/);
    if (String(error.code).startsWith('SLUICE_ERR_')) expect(error.code, r.text).toBe(code);
  }
}

/** A 200 stream carries no error event: the fakes answered normally, so one would be Sluice's failure. */
function expectCleanStream(r: Answer): void {
  expect(r.text, r.text.slice(0, 2000)).not.toMatch(/^event: error|^data: \{"error"|response\.failed/m);
  expect(r.text).not.toContain('SLUICE_ERR_INTERNAL');
}

function upstreamOf(text: string): Backend | undefined {
  const model = /"model":"(oa|ag|vl|an|ge|bd)"/.exec(text)?.[1] as Model | undefined;
  return model && BACKENDS[model];
}

/** Upstream refusals seen, for FUZZ_REPORT=1 runs (a reviewer reads what the client was told). */
const refusals = new Map<string, string>();

/**
 * JSON Schemas in tool definitions go to every provider as they are (each validates its own dialect),
 * so a broken schema is refused by the upstream, as OpenAI itself refuses one; anything else a
 * translator built must be valid for the provider.
 */
const SCHEMA_KEYS = new Set<unknown>(['parameters', 'input_schema']);
const passedOnAsIs = (m: Mutation) =>
  m.path.some((p) => SCHEMA_KEYS.has(p)) || (m.kind === 'addKey' && SCHEMA_KEYS.has(m.key));

/** FUZZ_COLLECT=file: a bug hunt writes every failing case there and goes on, instead of stopping. */
function collectOrThrow(err: unknown): void {
  const file = process.env.FUZZ_COLLECT;
  if (!file) throw err;
  appendFileSync(file, `${String(err instanceof Error ? err.message : err).slice(0, 4000)}\n----\n`);
}

async function check(api: ClientApiCase, body: string, mutations: Mutation[]): Promise<void> {
  const healthy = post(
    '/v1/chat/completions',
    JSON.stringify({ model: 'healthy', messages: [{ role: 'user', content: 'still there?' }] }),
  );
  const r = await post(api.path, body).catch((err: Error) => {
    throw new Error(`${err.message} (a hang?): ${api.path} ${body.slice(0, 1500)}`);
  });
  const ctx = `${api.path} ${body.slice(0, 3000)}\n=> ${r.status} ${r.headers.get('x-sluice-error-code')} ${r.text.slice(0, 600)}`;
  expect(r.status === 200 || (r.status >= 400 && r.status < 500), ctx).toBe(true);
  if (r.status >= 400) {
    expectErrorShape(api, r);
    // a body a translator built and the provider's own wire format refuses is Sluice's bug, not the
    // client's: the translator must refuse what it cannot express (SLUICE_ERR_INVALID_REQUEST or
    // SLUICE_ERR_UNSUPPORTED_FEATURE) before any upstream attempt
    const upstream = upstreamOf(body);
    if (r.headers.get('x-sluice-error-code') === 'SLUICE_ERR_UPSTREAM_REJECTED') {
      refusals.set(`${api.path} -> ${upstream}: ${r.text.slice(0, 300)}`, body.slice(0, 300));
      if (upstream !== api.family && !mutations.some(passedOnAsIs))
        expect.fail(`a translator sent what ${upstream} refuses: ${ctx}`);
    }
  } else if (/"stream":true/.test(body) && r.headers.get('content-type')?.includes('event-stream'))
    expectCleanStream(r);
  else expect(() => JSON.parse(r.text), ctx).not.toThrow();
  const h = await healthy;
  expect(h.status, `a healthy request beside ${ctx}`).toBe(200);
}

describe('hostile input through every translator', () => {
  it('every base body is served by every backend it names (the fuzz starts from valid requests)', async () => {
    for (const api of APIS)
      for (const model of api.models)
        for (const stream of api.streams ? [false, true] : [false]) {
          const body = { ...api.base, model, ...(stream ? { stream: true } : {}) };
          const r = await post(api.path, JSON.stringify(body));
          expect(r.status, `${api.path} ${model} stream=${stream}: ${r.text.slice(0, 500)}`).toBe(200);
        }
  });

  for (const api of APIS) {
    it(`${api.path}: hostile values at every field answer 200 or a documented 4xx (property-based)`, async () => {
      const variants = api.models.flatMap((model) =>
        (api.streams ? [false, true] : [false]).map((stream) => ({
          ...api.base,
          model,
          ...(stream ? { stream: true } : {}),
        })),
      );
      await fc.assert(
        fc.asyncProperty(
          fc
            .constantFrom(...variants)
            .chain((base) =>
              fc.tuple(
                fc.constant(base),
                fc.array(mutationOf(base, api.fields), { minLength: 1, maxLength: 3 }),
              ),
            ),
          async ([base, mutations]) => {
            await check(api, applyMutations(base, mutations), mutations).catch(collectOrThrow);
          },
        ),
        { numRuns: RUNS ?? 150 },
      );
    }, 120_000);
  }

  it('is still alive after all of it', async () => {
    if (process.env.FUZZ_REPORT) for (const [k, v] of refusals) console.log(`REFUSAL ${k}\n   body ${v}`);
    expect(dp.child.exitCode).toBeNull();
    expect((await fetch(`${dp.url}/healthz`)).status).toBe(200);
    expect(dp.logs.filter((l) => l.includes('SLUICE_ERR_INTERNAL')).slice(0, 5)).toEqual([]);
  });
});
