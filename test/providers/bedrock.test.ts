// The Bedrock provider end to end: the official `openai` SDK -> a real in-process dataplane -> the fake
// Bedrock runtime, which verifies every SigV4 signature with the same secret and validates Converse
// bodies. Chat whole and streamed (event-stream frames split anywhere), tool calls over two turns with
// tool input split across deltas, usage incl. cache reads, a wrong secret (403), exceptions and corrupt
// frames mid-stream, and features Converse lacks answered with a 400 naming the provider.
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type BedrockEvent, type FakeBedrock, startFakeBedrock, textEvents } from '../fakes/bedrock.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';

const MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const KEYS = {
  accessKeyId: 'AKIAFAKEBEDROCK01',
  secretAccessKey: 'fake/Secret+Key/For/Tests/0123456789abcd',
};
let fake: FakeBedrock;
let dp: InProcessDataplane;
let client: OpenAI;

beforeAll(async () => {
  process.env.SLUICE_TEST_AWS_KEY_ID = KEYS.accessKeyId;
  process.env.SLUICE_TEST_AWS_SECRET = KEYS.secretAccessKey;
  process.env.SLUICE_TEST_AWS_WRONG_SECRET = 'not-the-secret';
  fake = await startFakeBedrock({ ...KEYS, region: 'us-east-1' });
  const credentials = (secretEnv: string) => ({
    accessKeyId: { env: 'SLUICE_TEST_AWS_KEY_ID' },
    secretAccessKey: { env: secretEnv },
  });
  dp = await startDataplane({
    providers: [
      {
        name: 'aws',
        type: 'bedrock',
        region: 'us-east-1',
        baseUrl: fake.url,
        credentials: credentials('SLUICE_TEST_AWS_SECRET'),
      },
      {
        name: 'aws-bad',
        type: 'bedrock',
        region: 'us-east-1',
        baseUrl: fake.url,
        credentials: credentials('SLUICE_TEST_AWS_WRONG_SECRET'),
      },
    ],
    routes: [
      { name: 'bad', match: { models: ['bad-secret'] }, backends: [{ provider: 'aws-bad', model: MODEL }] },
      {
        name: 'claude',
        match: { models: ['anthropic.*', 'claude'] },
        backends: [{ provider: 'aws', model: MODEL }],
      },
    ],
  });
  client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'client-key', maxRetries: 0 });
});

afterAll(async () => {
  await dp?.stop();
  await fake?.close();
});

beforeEach(() => fake.script(() => ({})));

const TOOL: OpenAI.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

const TOOL_EVENTS: BedrockEvent[] = [
  { type: 'messageStart', payload: { role: 'assistant' } },
  { type: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'One moment.' } } },
  { type: 'contentBlockStop', payload: { contentBlockIndex: 0 } },
  {
    type: 'contentBlockStart',
    payload: {
      contentBlockIndex: 1,
      start: { toolUse: { toolUseId: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q', name: 'get_weather' } },
    },
  },
  { type: 'contentBlockDelta', payload: { contentBlockIndex: 1, delta: { toolUse: { input: '' } } } },
  { type: 'contentBlockDelta', payload: { contentBlockIndex: 1, delta: { toolUse: { input: '{"city' } } } },
  {
    type: 'contentBlockDelta',
    payload: { contentBlockIndex: 1, delta: { toolUse: { input: '": "Oslo"}' } } },
  },
  { type: 'contentBlockStop', payload: { contentBlockIndex: 1 } },
  { type: 'messageStop', payload: { stopReason: 'tool_use' } },
  {
    type: 'metadata',
    payload: { usage: { inputTokens: 80, outputTokens: 25, totalTokens: 135, cacheReadInputTokens: 30 } },
  },
];

describe('bedrock through the gateway with the openai SDK', () => {
  it('answers a chat with a signed, well-formed Converse request', async () => {
    const res = await client.chat.completions.create({
      model: 'claude',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Hi' },
      ],
      max_completion_tokens: 100,
      temperature: 0.5,
    });
    expect(res.choices[0]?.message.content).toBe('Hello from Bedrock');
    expect(res.choices[0]?.finish_reason).toBe('stop');
    expect(res.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 });
    const sent = fake.requests.at(-1);
    expect(sent?.path).toBe('/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse');
    expect(sent?.modelId).toBe(MODEL);
    expect(sent?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIAFAKEBEDROCK01\/\d{8}\/us-east-1\/bedrock\/aws4_request/,
    );
    expect(sent?.body).toEqual({
      system: [{ text: 'You are terse.' }],
      messages: [{ role: 'user', content: [{ text: 'Hi' }] }],
      inferenceConfig: { maxTokens: 100, temperature: 0.5 },
    });
  });

  it('streams event-stream frames split at every few bytes, with usage when asked', async () => {
    fake.script(() => ({ events: textEvents(['Str', 'eam', 'ing ✓'], 21), fault: { splitBytes: 7 } }));
    const stream = await client.chat.completions.create({
      model: 'claude',
      messages: [{ role: 'user', content: 'go' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Streaming ✓');
    expect(finish).toBe('stop');
    expect(usage).toEqual({ prompt_tokens: 21, completion_tokens: 3, total_tokens: 24 });
    expect(fake.requests.at(-1)?.path).toMatch(/\/converse-stream$/);
    expect(fake.requests.at(-1)?.headers.accept).toBe('application/vnd.amazon.eventstream');
  });

  it('streams tool input split across deltas, then takes the tool result in the next turn', async () => {
    fake.script(() => ({ events: TOOL_EVENTS, fault: { splitBytes: 11 } }));
    const stream = await client.chat.completions.create({
      model: 'claude',
      messages: [{ role: 'user', content: 'Weather in Oslo?' }],
      tools: [TOOL],
      stream: true,
      stream_options: { include_usage: true },
    });
    let args = '';
    let id = '';
    let name = '';
    let usage: OpenAI.CompletionUsage | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      for (const c of chunk.choices[0]?.delta.tool_calls ?? []) {
        args += c.function?.arguments ?? '';
        id ||= c.id ?? '';
        name ||= c.function?.name ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect({ id, name, args: JSON.parse(args) }).toEqual({
      id: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q',
      name: 'get_weather',
      args: { city: 'Oslo' },
    });
    expect(finish).toBe('tool_calls');
    expect(usage).toMatchObject({
      prompt_tokens: 110,
      completion_tokens: 25,
      prompt_tokens_details: { cached_tokens: 30 },
    });
    expect(fake.requests.at(-1)?.body?.toolConfig).toEqual({
      tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: TOOL.function.parameters } } }],
    });

    fake.script(() => ({ events: textEvents(['Oslo: 4°C.']) }));
    const second = await client.chat.completions.create({
      model: 'claude',
      messages: [
        { role: 'user', content: 'Weather in Oslo?' },
        {
          role: 'assistant',
          content: 'One moment.',
          tool_calls: [{ id, type: 'function', function: { name, arguments: args } }],
        },
        { role: 'tool', tool_call_id: id, content: 'cloudy, 4°C' },
      ],
      tools: [TOOL],
    });
    expect(second.choices[0]?.message.content).toBe('Oslo: 4°C.');
    const messages = fake.requests.at(-1)?.body?.messages as Array<{ role: string; content: unknown[] }>;
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(messages[2]?.content).toEqual([
      { toolResult: { toolUseId: id, content: [{ text: 'cloudy, 4°C' }] } },
    ]);
  });

  it('answers whole tool calls from Converse JSON', async () => {
    fake.script(() => ({ events: TOOL_EVENTS }));
    const res = await client.chat.completions.create({
      model: 'claude',
      messages: [{ role: 'user', content: 'Oslo?' }],
      tools: [TOOL],
    });
    const call = res.choices[0]?.message.tool_calls?.[0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(call.function).toEqual({ name: 'get_weather', arguments: '{"city":"Oslo"}' });
    expect(res.usage?.prompt_tokens_details?.cached_tokens).toBe(30);
  });

  it('surfaces a wrong secret as the 403 Bedrock gives, never the secret itself', async () => {
    const err = await client.chat.completions
      .create({ model: 'bad-secret', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    const e = err as InstanceType<typeof OpenAI.PermissionDeniedError>;
    expect(e.message).toContain(
      "provider 'aws-bad' answered 403: The request signature we calculated does not match",
    );
    expect(JSON.stringify(e.error)).not.toContain(KEYS.secretAccessKey);
  });

  it('passes a Bedrock ValidationException on as a 400 with its message', async () => {
    const err = await client.chat.completions
      .create({ model: 'claude', messages: [{ role: 'user', content: 'x' }], temperature: 1.5 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toContain('inferenceConfig.temperature must be between 0 and 1');
    // Bedrock names the exception only in its x-amzn-errortype header; docs/errors.md promises it as
    // the body's `code` (it was null: the body is just {"message"})
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('ValidationException');
  });

  it('ends the client stream with an error on a mid-stream exception or a corrupt frame', async () => {
    for (const fault of [
      { exceptionAfterEvents: 3, exceptionType: 'modelStreamErrorException' },
      { corruptCrcAtEvent: 3 },
    ]) {
      fake.script(() => ({ events: textEvents(['a', 'b', 'c', 'd']), fault }));
      const stream = await client.chat.completions.create({
        model: 'claude',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      });
      let text = '';
      const failure = await (async () => {
        for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      })().catch((e: unknown) => e as Error);
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).message).toMatch(
        fault.exceptionType ? /modelStreamErrorException/ : /malformed event stream/,
      );
      expect(text).toBe('ab');
    }
  });

  it('answers a 400 naming the provider and the feature Converse lacks', async () => {
    const emb = await client.embeddings.create({ model: 'claude', input: 'x' }).catch((e: unknown) => e);
    expect(emb).toBeInstanceOf(OpenAI.BadRequestError);
    expect((emb as Error).message).toContain(
      "provider 'aws' (Amazon Bedrock (Converse)) does not support /v1/embeddings",
    );
    const json = await client.chat.completions
      .create({
        model: 'claude',
        messages: [{ role: 'user', content: 'x' }],
        response_format: { type: 'json_object' },
      })
      .catch((e: unknown) => e);
    expect((json as Error).message).toContain(
      "provider 'aws' (Amazon Bedrock (Converse)) does not support response_format 'json_object'",
    );
    const before = fake.requests.length;
    const img = await client.chat.completions
      .create({
        model: 'claude',
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] },
        ],
      })
      .catch((e: unknown) => e);
    expect((img as InstanceType<typeof OpenAI.BadRequestError>).status).toBe(400);
    expect(fake.requests.length).toBe(before);
  });
});
