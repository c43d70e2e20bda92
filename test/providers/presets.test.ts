// Every provider preset builds the right request on the wire: a real dataplane sends to a capturing
// server (or to the Gemini/Bedrock fakes) and the test checks the path under the preset's documented
// base path, the auth header style, the model, the quirks (max_tokens renaming, stream_options) and
// that features a preset lacks are answered with a 400 naming the provider and feature before any
// request leaves the gateway.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../../dataplane/src/config/load.ts';
import { listPresets } from '../../dataplane/src/providers/presets.ts';
import { type FakeBedrock, startFakeBedrock } from '../fakes/bedrock.ts';
import { type FakeGemini, startFakeGemini } from '../fakes/gemini.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';

const SECRET = process.env.SLUICE_TEST_KEY as string;

interface Row {
  type: string;
  base: string;
  /** the preset has no default base URL (baseUrl is required) */
  noDefault?: boolean;
  /** max_completion_tokens is renamed to max_tokens */
  legacyMax?: boolean;
  noStreamOptions?: boolean;
  lacks?: Array<'embeddings' | 'completions' | 'tools'>;
}

// The documented base URL of each OpenAI-compatible preset (sources in docs/providers.md).
const COMPATIBLE: Row[] = [
  { type: 'openai', base: 'https://api.openai.com/v1' },
  {
    type: 'deepseek',
    base: 'https://api.deepseek.com/v1',
    legacyMax: true,
    lacks: ['embeddings', 'completions'],
  },
  { type: 'dashscope', base: 'https://dashscope.aliyuncs.com/compatible-mode/v1', legacyMax: true },
  { type: 'qwen', base: 'https://dashscope.aliyuncs.com/compatible-mode/v1', legacyMax: true },
  {
    type: 'moonshot',
    base: 'https://api.moonshot.cn/v1',
    legacyMax: true,
    lacks: ['embeddings', 'completions'],
  },
  { type: 'zhipu', base: 'https://open.bigmodel.cn/api/paas/v4', legacyMax: true, lacks: ['completions'] },
  { type: 'qianfan', base: 'https://qianfan.baidubce.com/v2', legacyMax: true, lacks: ['completions'] },
  {
    type: 'doubao',
    base: 'https://ark.cn-beijing.volces.com/api/v3',
    legacyMax: true,
    lacks: ['completions'],
  },
  {
    type: 'minimax',
    base: 'https://api.minimax.io/v1',
    legacyMax: true,
    lacks: ['embeddings', 'completions'],
  },
  {
    type: 'mistral',
    base: 'https://api.mistral.ai/v1',
    legacyMax: true,
    noStreamOptions: true,
    lacks: ['completions'],
  },
  { type: 'groq', base: 'https://api.groq.com/openai/v1', lacks: ['embeddings', 'completions'] },
  { type: 'together', base: 'https://api.together.xyz/v1' },
  { type: 'fireworks', base: 'https://api.fireworks.ai/inference/v1' },
  { type: 'openrouter', base: 'https://openrouter.ai/api/v1' },
  { type: 'xai', base: 'https://api.x.ai/v1', lacks: ['embeddings'] },
  {
    type: 'perplexity',
    base: 'https://api.perplexity.ai',
    legacyMax: true,
    lacks: ['tools', 'embeddings', 'completions'],
  },
  {
    type: 'cohere',
    base: 'https://api.cohere.ai/compatibility/v1',
    legacyMax: true,
    noStreamOptions: true,
    lacks: ['completions'],
  },
  { type: 'deepinfra', base: 'https://api.deepinfra.com/v1/openai' },
  { type: 'siliconflow', base: 'https://api.siliconflow.cn/v1', legacyMax: true },
  { type: 'cerebras', base: 'https://api.cerebras.ai/v1', lacks: ['embeddings'] },
  { type: 'vllm', base: 'http://localhost:8000/v1' },
  { type: 'ollama', base: 'http://localhost:11434/v1', legacyMax: true },
  { type: 'lm-studio', base: 'http://localhost:1234/v1', legacyMax: true },
  // no default: llama-server's default port, 8080, is the dataplane's own (a provider loop)
  { type: 'llama-cpp', base: 'http://llama.example/v1', noDefault: true, legacyMax: true },
];
const LOCAL = new Set(['vllm', 'ollama', 'lm-studio', 'llama-cpp']);

interface Captured {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** Records every request and answers in OpenAI's format (chat whole/streamed, embeddings). */
async function startCapture(): Promise<{ url: string; seen: Captured[]; server: Server }> {
  const seen: Captured[] = [];
  const server = createServer(async (req, res) => {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(parts).toString() || '{}') as Record<string, unknown>;
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    const path = (req.url ?? '').split('?')[0] ?? '';
    const usage = { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 };
    if (path.endsWith('/embeddings')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({
          object: 'list',
          data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }],
          model: body.model,
          usage,
        }),
      );
    }
    if (!path.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({ error: { message: `no route ${path}`, type: 'invalid_request_error' } }),
      );
    }
    const base = { id: 'chatcmpl-cap', created: 1, model: body.model };
    if (body.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (o: unknown) =>
        `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', ...(o as object) })}\n\n`;
      res.write(
        chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: 'ok' }, finish_reason: null }] }),
      );
      res.write(chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage }));
      return res.end('data: [DONE]\n\n');
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
        usage,
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

const basePath = (url: string) => new URL(url).pathname.replace(/\/+$/, '');

let capture: Awaited<ReturnType<typeof startCapture>>;
let gemini: FakeGemini;
let bedrock: FakeBedrock;
let dp: InProcessDataplane;
let client: OpenAI;

beforeAll(async () => {
  capture = await startCapture();
  gemini = await startFakeGemini({ apiKey: SECRET });
  process.env.SLUICE_TEST_PRESET_AWS_ID = 'AKIAPRESETTEST';
  process.env.SLUICE_TEST_PRESET_AWS_SECRET = 'preset/secret/value';
  bedrock = await startFakeBedrock({
    accessKeyId: 'AKIAPRESETTEST',
    secretAccessKey: 'preset/secret/value',
    region: 'ap-northeast-1',
  });
  const key = { apiKey: { env: 'SLUICE_TEST_KEY' } };
  const providers: unknown[] = COMPATIBLE.map((r) => ({
    name: `p-${r.type}`,
    type: r.type,
    baseUrl: capture.url + basePath(r.base),
    credentials: key,
  }));
  providers.push(
    { name: 'p-lm-studio-nokey', type: 'lm-studio', baseUrl: `${capture.url}/v1` },
    { name: 'p-azure-openai', type: 'azure-openai', baseUrl: capture.url, credentials: key },
    {
      name: 'p-azure-pinned',
      type: 'azure-openai',
      baseUrl: capture.url,
      apiVersion: '2025-04-01-preview',
      credentials: key,
    },
    { name: 'p-gemini', type: 'gemini', baseUrl: gemini.url, credentials: key },
    {
      name: 'p-bedrock',
      type: 'bedrock',
      region: 'ap-northeast-1',
      baseUrl: bedrock.url,
      credentials: {
        accessKeyId: { env: 'SLUICE_TEST_PRESET_AWS_ID' },
        secretAccessKey: { env: 'SLUICE_TEST_PRESET_AWS_SECRET' },
      },
    },
    {
      name: 'p-bedrock-default-url',
      type: 'bedrock',
      region: 'eu-west-3',
      credentials: {
        accessKeyId: { env: 'SLUICE_TEST_PRESET_AWS_ID' },
        secretAccessKey: { env: 'SLUICE_TEST_PRESET_AWS_SECRET' },
      },
    },
  );
  const names = (providers as Array<{ name: string }>).map((p) => p.name);
  dp = await startDataplane({
    providers,
    routes: names.map((n) => ({
      name: n,
      match: { models: [`m-${n}`] },
      backends: [{ provider: n, model: 'up-model' }],
    })),
  });
  client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'client', maxRetries: 0 });
});

afterAll(async () => {
  await dp?.stop();
  await gemini?.close();
  await bedrock?.close();
  await new Promise((r) => capture?.server.close(r));
});

const last = () => capture.seen.at(-1) as Captured;

describe('preset table', () => {
  it('covers every registered preset', () => {
    const tested = new Set([...COMPATIBLE.map((r) => r.type), 'azure-openai', 'gemini', 'bedrock', 'mock']);
    // the anthropic preset (Messages API) is covered by the Anthropic suites
    const missing = listPresets().filter((p) => p.api !== 'anthropic' && !tested.has(p.type));
    expect(missing.map((p) => p.type)).toEqual([]);
    for (const r of COMPATIBLE)
      expect(listPresets().find((p) => p.type === r.type)?.defaultBaseUrl, r.type).toBe(
        r.noDefault ? undefined : r.base,
      );
  });

  it.each(COMPATIBLE)(
    '$type: chat path, bearer auth, model and max tokens field on the wire',
    async (row) => {
      await client.chat.completions.create({
        model: `m-p-${row.type}`,
        messages: [{ role: 'user', content: 'hi' }],
        max_completion_tokens: 33,
      });
      const req = last();
      expect(req.method).toBe('POST');
      expect(req.url).toBe(`${basePath(row.base)}/chat/completions`);
      expect(req.headers.authorization).toBe(`Bearer ${SECRET}`);
      expect(req.headers['api-key']).toBeUndefined();
      expect(req.body.model).toBe('up-model');
      if (row.legacyMax)
        expect([req.body.max_tokens, req.body.max_completion_tokens]).toEqual([33, undefined]);
      else expect([req.body.max_tokens, req.body.max_completion_tokens]).toEqual([undefined, 33]);
    },
  );

  it.each(COMPATIBLE)(
    '$type: streaming asks for usage unless the provider rejects stream_options',
    async (row) => {
      const stream = await client.chat.completions.create({
        model: `m-p-${row.type}`,
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      });
      let text = '';
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      expect(text).toBe('ok');
      expect(last().body.stream_options).toEqual(row.noStreamOptions ? undefined : { include_usage: true });
    },
  );

  it.each(COMPATIBLE)(
    '$type: embeddings are sent, or refused with a 400 naming the provider',
    async (row) => {
      const before = capture.seen.length;
      const res = await client.embeddings
        .create({ model: `m-p-${row.type}`, input: 'x', encoding_format: 'float' })
        .catch((e: unknown) => e);
      if (row.lacks?.includes('embeddings')) {
        expect(res).toBeInstanceOf(OpenAI.BadRequestError);
        const err = res as InstanceType<typeof OpenAI.BadRequestError>;
        expect(err.message).toMatch(
          new RegExp(`provider 'p-${row.type}' \\(.+\\) does not support embeddings`),
        );
        expect((err.error as { code?: string }).code).toBe('SLUICE_ERR_UNSUPPORTED_FEATURE');
        expect(capture.seen.length).toBe(before);
      } else {
        expect((res as OpenAI.CreateEmbeddingResponse).data[0]?.embedding).toEqual([0.1, 0.2]);
        expect(last().url).toBe(`${basePath(row.base)}/embeddings`);
      }
    },
  );

  it('refuses tools and legacy completions on presets that lack them', async () => {
    for (const row of COMPATIBLE.filter(
      (r) => r.lacks?.includes('tools') || r.lacks?.includes('completions'),
    )) {
      if (row.lacks?.includes('completions')) {
        const c = await client.completions
          .create({ model: `m-p-${row.type}`, prompt: 'x' })
          .catch((e: unknown) => e);
        expect((c as Error).message, row.type).toContain(`provider 'p-${row.type}'`);
        expect((c as Error).message).toContain('does not support legacy completions');
      }
      if (row.lacks?.includes('tools')) {
        const t = await client.chat.completions
          .create({
            model: `m-p-${row.type}`,
            messages: [{ role: 'user', content: 'x' }],
            tools: [{ type: 'function', function: { name: 'f' } }],
          })
          .catch((e: unknown) => e);
        expect((t as InstanceType<typeof OpenAI.BadRequestError>).status).toBe(400);
        expect((t as Error).message).toContain(
          `provider 'p-${row.type}' (Perplexity (Sonar)) does not support tools`,
        );
      }
    }
  });

  it('local servers without a configured key send no authorization header', async () => {
    await client.chat.completions.create({
      model: 'm-p-lm-studio-nokey',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(last().url).toBe('/v1/chat/completions');
    expect(last().headers.authorization).toBeUndefined();
    for (const t of LOCAL) expect(listPresets().find((p) => p.type === t)?.requiredCredentials).toEqual([]);
  });

  it('azure-openai: deployment path, api-version query and api-key header', async () => {
    await client.chat.completions.create({
      model: 'm-p-azure-openai',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(last().url).toBe('/openai/deployments/up-model/chat/completions?api-version=2024-10-21');
    expect(last().headers['api-key']).toBe(SECRET);
    expect(last().headers.authorization).toBeUndefined();
    await client.embeddings.create({ model: 'm-p-azure-openai', input: 'x', encoding_format: 'float' });
    expect(last().url).toBe('/openai/deployments/up-model/embeddings?api-version=2024-10-21');
    await client.chat.completions.create({
      model: 'm-p-azure-pinned',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(last().url).toBe('/openai/deployments/up-model/chat/completions?api-version=2025-04-01-preview');
  });

  it('gemini: model path under /v1beta and the x-goog-api-key header', async () => {
    await client.chat.completions.create({
      model: 'm-p-gemini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const req = gemini.requests.at(-1);
    expect(req?.path).toBe('/v1beta/models/up-model:generateContent');
    expect(req?.headers['x-goog-api-key']).toBe(SECRET);
    expect(req?.headers.authorization).toBeUndefined();
  });

  it('bedrock: converse path and a SigV4 signature scoped to the configured region', async () => {
    const res = await client.chat.completions.create({
      model: 'm-p-bedrock',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(res.choices[0]?.message.content).toBe('Hello from Bedrock');
    const req = bedrock.requests.at(-1);
    expect(req?.path).toBe('/model/up-model/converse');
    expect(req?.headers.authorization).toMatch(
      /Credential=AKIAPRESETTEST\/\d{8}\/ap-northeast-1\/bedrock\/aws4_request/,
    );
    expect(req?.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
  });

  it('bedrock: the default endpoint carries the region, and a missing region fails config load', () => {
    expect(dp.dataplane.runtime.providers.get('p-bedrock-default-url')?.resolved.baseUrl).toBe(
      'https://bedrock-runtime.eu-west-3.amazonaws.com',
    );
    const cfg = (region?: string) => ({
      // a config without namespaces names its access mode (open or tenants) since fail-closed access
      access: 'open',
      providers: [
        {
          name: 'b',
          type: 'bedrock',
          ...(region ? { region } : {}),
          credentials: { accessKeyId: { env: 'A' }, secretAccessKey: { env: 'B' } },
        },
      ],
      routes: [{ name: 'r', backends: [{ provider: 'b' }] }],
    });
    const issues = (c: unknown) => {
      try {
        validateConfig(c);
      } catch (err) {
        return (err as ConfigError).issues;
      }
      return [];
    };
    expect(issues(cfg())).toEqual([
      { path: 'providers[0].region', message: 'required for provider type "bedrock"' },
    ]);
    expect(issues(cfg('us-east-1.evil.com/'))).toEqual([
      { path: 'providers[0].region', message: 'must look like a region name, e.g. us-east-1' },
    ]);
    expect(issues(cfg('us-east-1'))).toEqual([]);
    expect(() => validateConfig(cfg())).toThrow(ConfigError);
  });
});
