// Anthropic clients (the official @anthropic-ai/sdk, POST /v1/messages) served by Gemini and Bedrock
// through a real in-process dataplane and the validating fakes: whole and streamed answers that follow
// Anthropic's event grammar, tool use over two turns, usage in Anthropic's format (cache reads split
// out), and upstream errors in Anthropic's error envelope.
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type BedrockEvent, type FakeBedrock, startFakeBedrock, textEvents } from '../fakes/bedrock.ts';
import { type FakeGemini, type GeminiChunk, startFakeGemini, textChunks } from '../fakes/gemini.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { assemble, assertAnthropicGrammar, parseSse } from './anthropic_helpers.ts';

const SECRET = process.env.SLUICE_TEST_KEY as string;
const AWS = { accessKeyId: 'AKIAANTHROPICVIA01', secretAccessKey: 'anthropic/via/bedrock/secret' };
let gemini: FakeGemini;
let bedrock: FakeBedrock;
let dp: InProcessDataplane;
let client: Anthropic;

beforeAll(async () => {
  process.env.SLUICE_TEST_VIA_AWS_ID = AWS.accessKeyId;
  process.env.SLUICE_TEST_VIA_AWS_SECRET = AWS.secretAccessKey;
  gemini = await startFakeGemini({ apiKey: SECRET });
  bedrock = await startFakeBedrock({ ...AWS, region: 'us-west-2' });
  dp = await startDataplane({
    providers: [
      {
        name: 'gem',
        type: 'gemini',
        baseUrl: gemini.url,
        credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
      },
      {
        name: 'aws',
        type: 'bedrock',
        region: 'us-west-2',
        baseUrl: bedrock.url,
        credentials: {
          accessKeyId: { env: 'SLUICE_TEST_VIA_AWS_ID' },
          secretAccessKey: { env: 'SLUICE_TEST_VIA_AWS_SECRET' },
        },
      },
    ],
    routes: [
      { name: 'gemini', match: { models: ['gemini-*'] }, backends: [{ provider: 'gem' }] },
      {
        name: 'bedrock',
        match: { models: ['claude-on-bedrock'] },
        backends: [{ provider: 'aws', model: 'anthropic.claude-sonnet-4-v1:0' }],
      },
    ],
  });
  client = new Anthropic({ baseURL: dp.url, apiKey: 'client-key', maxRetries: 0 });
});

afterAll(async () => {
  await dp?.stop();
  await gemini?.close();
  await bedrock?.close();
});

beforeEach(() => {
  gemini.script(() => ({}));
  bedrock.script(() => ({}));
});

const WEATHER: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

async function rawStream(model: string, extra: Record<string, unknown> = {}) {
  const res = await fetch(`${dp.url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': 'client-key',
      'anthropic-version': '2023-06-01',
    },
    body: JSON.stringify({
      model,
      max_tokens: 200,
      stream: true,
      messages: [{ role: 'user', content: 'Weather?' }],
      ...extra,
    }),
  });
  expect(res.status).toBe(200);
  return parseSse(await res.text());
}

describe('@anthropic-ai/sdk -> gemini', () => {
  it('answers a message with Gemini on the wire and usage in Anthropic form', async () => {
    gemini.script(() => ({ chunks: textChunks(['Bonjour', ' !'], 14) }));
    const msg = await client.messages.create({
      model: 'gemini-2.5-flash',
      max_tokens: 128,
      system: 'Answer in French.',
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    expect(msg.content).toEqual([{ type: 'text', text: 'Bonjour !' }]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.usage).toMatchObject({ input_tokens: 14, output_tokens: 2 });
    const sent = gemini.requests.at(-1);
    expect(sent?.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(sent?.headers['x-goog-api-key']).toBe(SECRET);
    expect(sent?.body).toMatchObject({
      systemInstruction: { parts: [{ text: 'Answer in French.' }] },
      contents: [{ role: 'user', parts: [{ text: 'Say hello' }] }],
      generationConfig: { maxOutputTokens: 128 },
    });
  });

  it('streams Anthropic events in grammar, and the SDK assembles the final message', async () => {
    gemini.script(() => ({ chunks: textChunks(['Str', 'eam', 'ed.'], 9), fault: { splitBytes: 9 } }));
    const events = await rawStream('gemini-2.5-flash');
    assertAnthropicGrammar(events);
    expect(assemble(events).text).toBe('Streamed.');
    const delta = events.find((e) => e.data !== '[DONE]' && e.data.type === 'message_delta')?.data as {
      usage: Record<string, number>;
    };
    expect(delta.usage).toMatchObject({ input_tokens: 9, output_tokens: 3 });

    gemini.script(() => ({ chunks: textChunks(['SDK', ' stream'], 5) }));
    const final = await client.messages
      .stream({ model: 'gemini-2.5-flash', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] })
      .finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'SDK stream' });
    expect(final.usage.output_tokens).toBe(2);
  });

  it('carries tool use and tool results across two turns', async () => {
    const call: GeminiChunk[] = [
      {
        candidates: [
          {
            index: 0,
            content: {
              role: 'model',
              parts: [{ functionCall: { name: 'get_weather', args: { city: 'Lyon' } } }],
            },
            finishReason: 'STOP',
          },
        ],
        usageMetadata: { promptTokenCount: 30, candidatesTokenCount: 6, totalTokenCount: 36 },
      },
    ];
    gemini.script(() => ({ chunks: call }));
    const first = await client.messages.create({
      model: 'gemini-2.5-flash',
      max_tokens: 100,
      tools: [WEATHER],
      messages: [{ role: 'user', content: 'Lyon?' }],
    });
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((b) => b.type === 'tool_use') as Anthropic.ToolUseBlock;
    expect(use).toMatchObject({ name: 'get_weather', input: { city: 'Lyon' } });
    expect(use.id).toMatch(/^[A-Za-z0-9_-]+$/);

    gemini.script(() => ({ chunks: textChunks(['Lyon: 18°C.']) }));
    const second = await client.messages.create({
      model: 'gemini-2.5-flash',
      max_tokens: 100,
      tools: [WEATHER],
      messages: [
        { role: 'user', content: 'Lyon?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18°C' }] },
      ],
    });
    expect(second.content[0]).toMatchObject({ type: 'text', text: 'Lyon: 18°C.' });
    const contents = gemini.requests.at(-1)?.body?.contents as Array<{ role: string; parts: unknown[] }>;
    expect(contents.map((c) => c.role)).toEqual(['user', 'model', 'user']);
    expect(contents[2]?.parts).toEqual([
      { functionResponse: { name: 'get_weather', response: { result: '18°C' } } },
    ]);
  });

  // Anthropic takes any string as a tool_use name in history, Gemini refuses one outside its rule:
  // the client gets Sluice's 400 in Anthropic's form and nothing is sent to Gemini.
  it('answers a history tool name Gemini refuses with a 400 in Anthropic form, sending nothing', async () => {
    const before = gemini.requests.length;
    const err = await client.messages
      .create({
        model: 'gemini-2.5-flash',
        max_tokens: 10,
        tools: [WEATHER],
        messages: [
          { role: 'user', content: 'Lyon?' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'get weather', input: {} }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: '18°C' }] },
        ],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const body = (err as InstanceType<typeof Anthropic.BadRequestError>).error as {
      error: { type: string; message: string };
    };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain("'get weather'");
    expect(gemini.requests.length).toBe(before);
  });

  it('answers a Gemini rejection in Anthropic error form', async () => {
    gemini.script(() => ({
      fault: { status: 429, message: 'Resource has been exhausted (e.g. check quota).' },
    }));
    const err = await client.messages
      .create({ model: 'gemini-2.5-flash', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect((err as InstanceType<typeof Anthropic.RateLimitError>).message).toContain(
      'Resource has been exhausted',
    );
  });
});

const TOOL_STREAM: BedrockEvent[] = [
  { type: 'messageStart', payload: { role: 'assistant' } },
  { type: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'Checking.' } } },
  { type: 'contentBlockStop', payload: { contentBlockIndex: 0 } },
  {
    type: 'contentBlockStart',
    payload: { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tooluse_abc', name: 'get_weather' } } },
  },
  { type: 'contentBlockDelta', payload: { contentBlockIndex: 1, delta: { toolUse: { input: '{"ci' } } } },
  {
    type: 'contentBlockDelta',
    payload: { contentBlockIndex: 1, delta: { toolUse: { input: 'ty":"Nice"}' } } },
  },
  { type: 'contentBlockStop', payload: { contentBlockIndex: 1 } },
  { type: 'messageStop', payload: { stopReason: 'tool_use' } },
  {
    type: 'metadata',
    payload: { usage: { inputTokens: 12, outputTokens: 9, totalTokens: 61, cacheReadInputTokens: 40 } },
  },
];

describe('@anthropic-ai/sdk -> bedrock', () => {
  it('answers a message through a signed Converse call, cache reads split out of input tokens', async () => {
    bedrock.script(() => ({ events: TOOL_STREAM }));
    const msg = await client.messages.create({
      model: 'claude-on-bedrock',
      max_tokens: 64,
      tools: [WEATHER],
      messages: [{ role: 'user', content: 'Nice?' }],
    });
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.content).toEqual([
      { type: 'text', text: 'Checking.' },
      { type: 'tool_use', id: 'tooluse_abc', name: 'get_weather', input: { city: 'Nice' } },
    ]);
    expect(msg.usage).toMatchObject({ input_tokens: 12, output_tokens: 9, cache_read_input_tokens: 40 });
    const sent = bedrock.requests.at(-1);
    expect(sent?.path).toBe('/model/anthropic.claude-sonnet-4-v1%3A0/converse');
    expect(sent?.body?.inferenceConfig).toEqual({ maxTokens: 64 });
  });

  it('streams tool input split across deltas as Anthropic input_json_delta events', async () => {
    bedrock.script(() => ({ events: TOOL_STREAM, fault: { splitBytes: 13 } }));
    const events = await rawStream('claude-on-bedrock', { tools: [WEATHER] });
    assertAnthropicGrammar(events);
    const { text, tools } = assemble(events);
    expect(text).toBe('Checking.');
    expect(tools).toEqual([{ id: 'tooluse_abc', name: 'get_weather', input: { city: 'Nice' } }]);
    const delta = events.find((e) => e.data !== '[DONE]' && e.data.type === 'message_delta')?.data as {
      delta: { stop_reason: string };
      usage: Record<string, number>;
    };
    expect(delta.delta.stop_reason).toBe('tool_use');
    expect(delta.usage).toMatchObject({ input_tokens: 12, output_tokens: 9, cache_read_input_tokens: 40 });
  });

  // Anthropic's tool names go to 128 characters, Bedrock's to 64; ids from other backends
  // ('functions.get_weather:0') are Anthropic's 400 before any backend is asked.
  it('answers a tool name Bedrock refuses, and a tool id Anthropic refuses, with 400s in Anthropic form', async () => {
    const before = bedrock.requests.length;
    const long = { ...WEATHER, name: `get_weather_${'x'.repeat(80)}` };
    const tooLong = await client.messages
      .create({
        model: 'claude-on-bedrock',
        max_tokens: 10,
        tools: [long],
        messages: [{ role: 'user', content: 'x' }],
      })
      .catch((e: unknown) => e);
    expect(tooLong).toBeInstanceOf(Anthropic.BadRequestError);
    const badId = await client.messages
      .create({
        model: 'claude-on-bedrock',
        max_tokens: 10,
        tools: [WEATHER],
        messages: [
          { role: 'user', content: 'Nice?' },
          {
            role: 'assistant',
            content: [{ type: 'tool_use', id: 'functions.get_weather:0', name: 'get_weather', input: {} }],
          },
          {
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: 'functions.get_weather:0', content: 'sunny' }],
          },
        ],
      })
      .catch((e: unknown) => e);
    expect(badId).toBeInstanceOf(Anthropic.BadRequestError);
    expect((badId as Error).message).toContain('messages.1.content.0.id');
    expect(bedrock.requests.length).toBe(before);
  });

  it('ends an Anthropic stream with an error event when Bedrock throws mid-stream', async () => {
    bedrock.script(() => ({
      events: textEvents(['a', 'b', 'c']),
      fault: { exceptionAfterEvents: 2, exceptionType: 'throttlingException' },
    }));
    const stream = client.messages.stream({
      model: 'claude-on-bedrock',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'x' }],
    });
    const failure = await stream.finalMessage().catch((e: unknown) => e as Error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/throttlingException/);
  });
});
