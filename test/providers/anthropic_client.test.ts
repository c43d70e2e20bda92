// Anthropic clients (the official @anthropic-ai/sdk) on POST /v1/messages of a real in-process
// dataplane, routed to (a) the fake Anthropic API (passthrough), (b) the built-in mock and (c) the fake
// OpenAI server (both translated): whole and streamed answers, tools, usage in Anthropic's format,
// errors in Anthropic's envelope, output caps that end with stop_reason max_tokens, and a 400 naming
// the provider and feature a backend cannot do.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Dataplane } from '../../dataplane/src/dataplane.ts';
import type { Gate } from '../../dataplane/src/proxy/policy_interface.ts';
import { type FakeAnthropic, fixtures, startFakeAnthropic } from '../fakes/anthropic.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import {
  configDir,
  type InProcessDataplane,
  openaiProvider,
  startDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';
import { testLogger } from '../helpers/logging.ts';
import { CLIENT_KEY, UPSTREAM_KEY } from '../helpers/secrets.ts';
import { assertAnthropicGrammar, parseSse } from './anthropic_helpers.ts';

let claude: FakeAnthropic;
let up: FakeOpenAI;
let dp: InProcessDataplane;
let client: Anthropic;

const MOCK_TEXT = 'Sluice routes every request to the right model';

function config(): Record<string, unknown> {
  return {
    providers: [
      {
        name: 'claude',
        type: 'anthropic',
        baseUrl: claude.url,
        credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
      },
      { name: 'mock', type: 'mock', mock: { outputTokens: 8, text: MOCK_TEXT } },
      openaiProvider('up', up.url),
    ],
    routes: [
      {
        name: 'claude',
        match: { models: ['claude-*'] },
        backends: [{ provider: 'claude' }],
        retry: { attempts: 0 },
      },
      {
        name: 'sonnet',
        match: { models: ['sonnet'] },
        backends: [{ provider: 'claude', model: 'claude-sonnet-4-5' }],
      },
      { name: 'mock', match: { models: ['mock-*'] }, backends: [{ provider: 'mock' }] },
      { name: 'up', match: { models: ['gpt-*'] }, backends: [{ provider: 'up' }] },
    ],
  };
}

beforeAll(async () => {
  claude = await startFakeAnthropic({ apiKey: UPSTREAM_KEY });
  up = await startFakeOpenAI({ name: 'up', apiKey: UPSTREAM_KEY });
  dp = await startDataplane(config());
  client = new Anthropic({ baseURL: dp.url, apiKey: CLIENT_KEY, maxRetries: 0 });
});

afterAll(async () => {
  await dp?.stop();
  await claude?.close();
  await up?.close();
});

beforeEach(() => claude.setScript(() => ({})));

const hello: Anthropic.MessageParam[] = [{ role: 'user', content: 'Say hello' }];

async function rawMessages(body: unknown, init: RequestInit = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(`${dp.url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': CLIENT_KEY,
      'anthropic-version': '2023-06-01',
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
  return { status: res.status, text: await res.text() };
}

describe('@anthropic-ai/sdk -> anthropic provider (passthrough)', () => {
  it('answers with the upstream message; the upstream sees the provider key and version, not the client key', async () => {
    const msg = await client.messages.create({
      model: 'sonnet',
      max_tokens: 100,
      system: 'Terse.',
      messages: hello,
    });
    expect(msg.type).toBe('message');
    expect(msg.content).toEqual([{ type: 'text', text: 'Hello from the fake Claude model with words' }]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.usage.output_tokens).toBe(8);
    expect(msg.usage.input_tokens).toBe(4);
    const sent = claude.requests.at(-1);
    expect(sent?.headers['x-api-key']).toBe(UPSTREAM_KEY);
    expect(sent?.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent?.body).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      system: 'Terse.',
      messages: hello,
    });
  });

  it('streams with usage from both ends: input from message_start, output from message_delta', async () => {
    const stream = client.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 100, messages: hello });
    let text = '';
    stream.on('text', (t) => {
      text += t;
    });
    const msg = await stream.finalMessage();
    expect(text).toBe('Hello from the fake Claude model with words');
    expect(msg.usage).toMatchObject({ input_tokens: 3, output_tokens: 8 });
    expect(msg.stop_reason).toBe('end_turn');
  });

  it('streams text + two tool_use blocks and a tool input split into small pieces', async () => {
    claude.setScript(() => fixtures.textAndTools());
    const tools: Anthropic.Tool[] = [
      { name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
    ];
    const first = await client.messages
      .stream({
        model: 'claude-haiku-4-5',
        max_tokens: 300,
        messages: [{ role: 'user', content: 'Weather?' }],
        tools,
      })
      .finalMessage();
    expect(first.stop_reason).toBe('tool_use');
    expect(first.content.map((b) => (b.type === 'tool_use' ? [b.id, b.input] : b.type))).toEqual([
      'text',
      ['toolu_01B', { city: 'Paris' }],
      ['toolu_01C', { city: 'Tokyo' }],
    ]);
    claude.setScript(() => fixtures.toolUseSplit());
    const split = await client.messages
      .stream({
        model: 'claude-haiku-4-5',
        max_tokens: 300,
        messages: [{ role: 'user', content: 'Paris?' }],
        tools,
      })
      .finalMessage();
    expect(split.content).toEqual([
      { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris', unit: 'celsius' } },
    ]);
    expect(split.usage).toMatchObject({ input_tokens: 120, output_tokens: 31 });
  });

  it('passes cache token counts through to the client', async () => {
    claude.setScript(() => fixtures.usageOnlyInDelta());
    const msg = await client.messages
      .stream({ model: 'claude-haiku-4-5', max_tokens: 50, messages: hello })
      .finalMessage();
    expect(msg.usage).toMatchObject({
      input_tokens: 42,
      output_tokens: 5,
      cache_read_input_tokens: 8,
      cache_creation_input_tokens: 2,
    });
  });

  it("ends a stream that fails mid-way with an Anthropic error event of the upstream's type", async () => {
    claude.setScript(() => fixtures.errorMidStream());
    const err = await client.messages
      .stream({ model: 'claude-haiku-4-5', max_tokens: 100, messages: hello })
      .finalMessage()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toEqual({
      type: 'error',
      error: {
        type: 'overloaded_error',
        message: "provider 'claude' failed mid-stream: overloaded_error: Overloaded",
        // the upstream's own code (Anthropic's type); Sluice's is not in a stream that already started
        details: { error_code: 'overloaded_error' },
      },
    });
  });

  it('never ends a stream cut off before message_stop like a success: the client gets an error event', async () => {
    claude.setScript(() => ({ truncateAfterDeltas: 3, chunkDelayMs: 2 }));
    const err = await client.messages
      .stream({ model: 'claude-haiku-4-5', max_tokens: 100, messages: hello })
      .finalMessage()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    const body = (err as InstanceType<typeof Anthropic.APIError>).error as {
      error: { type: string; message: string };
    };
    expect(body.error.type).toBe('api_error');
    expect(body.error.message).toBe("provider 'claude' ended the stream before message_stop");
  });

  it('passes an upstream 400 on in the Anthropic envelope, naming the provider', async () => {
    // consecutive user turns: valid for the gateway (Anthropic merges them), rejected by this stricter upstream
    const err = await client.messages
      .create({ model: 'claude-x', max_tokens: 10, messages: [...hello, { role: 'user', content: 'again' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const e = err as InstanceType<typeof Anthropic.BadRequestError>;
    expect(e.error).toEqual({
      type: 'error',
      error: {
        type: 'invalid_request_error',
        message:
          'provider \'claude\' answered 400: messages: roles must alternate between "user" and "assistant"',
        details: { error_code: 'invalid_request_error' },
      },
    });
    expect(e.headers.get('x-sluice-error-code')).toBe('SLUICE_ERR_UPSTREAM_REJECTED');
  });

  it("answers an upstream 529 with the upstream's overloaded_error, naming the provider", async () => {
    claude.setScript(() => fixtures.overloaded());
    const err = await client.messages
      .create({ model: 'claude-x', max_tokens: 10, messages: hello })
      .catch((e: unknown) => e);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(502);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toEqual({
      type: 'error',
      error: {
        type: 'overloaded_error',
        message: "provider 'claude' answered 529: injected 529",
        details: { error_code: 'overloaded_error' },
      },
    });
    expect((err as InstanceType<typeof Anthropic.APIError>).headers?.get('x-sluice-error-code')).toBe(
      'SLUICE_ERR_UPSTREAM_ERROR',
    );
  });
});

describe('POST /v1/messages errors', () => {
  it('validates like Anthropic and answers in its envelope', async () => {
    const noMax = await rawMessages({ model: 'claude-x', messages: hello });
    expect(noMax).toEqual({
      status: 400,
      text: JSON.stringify({
        type: 'error',
        error: {
          type: 'invalid_request_error',
          message: 'max_tokens: Field required',
          details: { error_code: 'SLUICE_ERR_INVALID_REQUEST', param: 'max_tokens' },
        },
      }),
    });
    const badJson = await rawMessages('{"model":');
    expect(badJson.status).toBe(400);
    expect(JSON.parse(badJson.text).error.type).toBe('invalid_request_error');
    const unknown = await rawMessages({ model: 'nope', max_tokens: 5, messages: hello });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.text)).toEqual({
      type: 'error',
      error: {
        type: 'not_found_error',
        message: 'The model `nope` does not exist or you do not have access to it.',
        details: { error_code: 'model_not_found', param: 'model' },
      },
    });
    const get = await fetch(`${dp.url}/v1/messages`);
    expect(get.status).toBe(405);
    expect(((await get.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });
});

describe('@anthropic-ai/sdk -> OpenAI-compatible backends (translated)', () => {
  it('the mock: whole answer with usage in Anthropic format', async () => {
    const msg = await client.messages.create({ model: 'mock-small', max_tokens: 100, messages: hello });
    expect(msg.id).toMatch(/^msg_/);
    expect(msg.role).toBe('assistant');
    expect(msg.content).toEqual([{ type: 'text', text: MOCK_TEXT }]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.usage.output_tokens).toBe(8);
    expect(msg.usage.input_tokens).toBeGreaterThan(0);
  });

  it('the mock: a stream with the exact Anthropic event grammar and final usage', async () => {
    const raw = await rawMessages({ model: 'mock-small', max_tokens: 100, messages: hello, stream: true });
    expect(raw.status).toBe(200);
    const events = parseSse(raw.text);
    assertAnthropicGrammar(events);
    const msg = await client.messages
      .stream({ model: 'mock-small', max_tokens: 100, messages: hello })
      .finalMessage();
    expect(msg.content).toEqual([{ type: 'text', text: MOCK_TEXT }]);
    expect(msg.usage.output_tokens).toBe(8);
    expect(msg.usage.input_tokens).toBeGreaterThan(0);
  });

  it('the mock: max_tokens below the answer ends with stop_reason max_tokens', async () => {
    const msg = await client.messages.create({ model: 'mock-small', max_tokens: 3, messages: hello });
    expect(msg.stop_reason).toBe('max_tokens');
    expect(msg.usage.output_tokens).toBe(3);
  });

  it('a feature the backend cannot do is a 400 naming the provider and the feature', async () => {
    const err = await client.messages
      .create({
        model: 'mock-small',
        max_tokens: 10,
        messages: [
          {
            role: 'user',
            content: [
              {
                type: 'document',
                source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' },
              },
              { type: 'text', text: 'Summarise' },
            ],
          },
        ],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as InstanceType<typeof Anthropic.BadRequestError>).errorCode).toBe(
      'SLUICE_ERR_UNSUPPORTED_FEATURE',
    );
    expect((err as InstanceType<typeof Anthropic.BadRequestError>).error).toEqual({
      type: 'error',
      error: {
        type: 'invalid_request_error',
        message:
          "provider 'mock' (Built-in mock (deterministic, no network)) does not support 'document' content blocks",
        details: { error_code: 'SLUICE_ERR_UNSUPPORTED_FEATURE', param: 'messages[0].content[0].type' },
      },
    });
  });

  it('the fake OpenAI server: whole and streamed, with its exact usage and stream usage requested upstream', async () => {
    const whole = await client.messages.create({ model: 'gpt-4o-mini', max_tokens: 100, messages: hello });
    expect(whole.content).toEqual([{ type: 'text', text: '[up] from the fake upstream server with tokens' }]);
    const promptTokens = JSON.stringify(up.requests.at(-1)?.body?.messages).length;
    expect(whole.usage).toMatchObject({ input_tokens: promptTokens, output_tokens: 8 });
    expect(up.requests.at(-1)?.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);

    const streamed = await client.messages
      .stream({ model: 'gpt-4o-mini', max_tokens: 100, messages: hello })
      .finalMessage();
    expect(streamed.content).toEqual(whole.content);
    expect(streamed.usage).toMatchObject({ input_tokens: promptTokens, output_tokens: 8 });
    expect(up.requests.at(-1)?.body?.stream_options).toEqual({ include_usage: true });
  });
});

describe('output caps end in each client format', () => {
  let capped: Dataplane;
  let cfg: TestConfigDir;
  let url: string;
  // A gate that admits everyone with an output cap of 3 tokens (the policy engine's job in production).
  const capGate: Gate = {
    identify: () => ({ namespace: 'team' }),
    authorize: () => {},
    visibleModel: () => true,
    admit: async () => ({ headers: {}, outputCap: 3, cacheKey: undefined, complete: () => {} }),
  };

  beforeAll(async () => {
    cfg = configDir({ ...config(), namespaces: [{ name: 'team', default: true }] });
    capped = new Dataplane({
      configFile: cfg.file,
      log: testLogger(),
      host: '127.0.0.1',
      port: 0,
      gateFactory: () => capGate,
    });
    url = await capped.start();
  });

  afterAll(async () => {
    await capped?.stop();
    cfg?.cleanup();
  });

  for (const model of ['mock-small', 'claude-haiku-4-5', 'gpt-4o-mini']) {
    it(`Anthropic client, ${model}: a capped stream ends with max_tokens and output usage of the cap`, async () => {
      const c = new Anthropic({ baseURL: url, apiKey: CLIENT_KEY, maxRetries: 0 });
      const msg = await c.messages.stream({ model, max_tokens: 100, messages: hello }).finalMessage();
      expect(msg.stop_reason).toBe('max_tokens');
      expect(msg.usage.output_tokens).toBe(3);
      const text = msg.content[0]?.type === 'text' ? msg.content[0].text : '';
      expect(text.length).toBeGreaterThan(0);
      const raw = await fetch(`${url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, max_tokens: 100, messages: hello, stream: true }),
      });
      assertAnthropicGrammar(parseSse(await raw.text()));
    });
  }

  it('OpenAI client, anthropic provider: a capped stream ends with finish_reason length', async () => {
    const c = new OpenAI({ baseURL: `${url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
    const final = await c.chat.completions
      .stream({
        model: 'claude-haiku-4-5',
        messages: [{ role: 'user', content: 'hi' }],
        stream_options: { include_usage: true },
      })
      .finalChatCompletion();
    expect(final.choices[0]?.finish_reason).toBe('length');
    expect(final.usage?.completion_tokens).toBe(3);
  });
});
