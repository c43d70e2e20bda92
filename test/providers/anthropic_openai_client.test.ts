// OpenAI clients (the official `openai` SDK) through a real in-process dataplane to an `anthropic`
// provider backed by the fake Anthropic API: chat, streaming, tools (split tool input, several blocks,
// a full tool round trip), structured output, usage with cache tokens (whole and streamed, recorded in
// metrics with the input half included), mid-stream errors, 529 overload and fallback.
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeAnthropic, fixtures, sampleFor, startFakeAnthropic } from '../fakes/anthropic.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';

let fake: FakeAnthropic;
let dp: InProcessDataplane;
let client: OpenAI;

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
      required: ['city'],
    },
  },
};

beforeAll(async () => {
  fake = await startFakeAnthropic({ apiKey: UPSTREAM_KEY });
  dp = await startDataplane({
    providers: [
      {
        name: 'claude',
        type: 'anthropic',
        baseUrl: fake.url,
        credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
        models: [{ name: 'claude-sonnet-4-5', maxOutputTokens: 2000 }],
      },
      { name: 'mock', type: 'mock', mock: { outputTokens: 4, text: 'fallback answer from mock' } },
    ],
    routes: [
      {
        name: 'overloaded',
        match: { models: ['busy-claude'] },
        backends: [{ provider: 'claude', model: 'claude-sonnet-4-5' }],
        fallback: [{ provider: 'mock', model: 'mock-small' }],
        retry: { attempts: 1, baseDelayMs: 1, onStatus: [529] },
      },
      {
        name: 'claude',
        match: { models: ['claude-*'] },
        backends: [{ provider: 'claude' }],
        retry: { attempts: 0 },
      },
    ],
  });
  client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'unused-client-key', maxRetries: 0 });
});

afterAll(async () => {
  await dp?.stop();
  await fake?.close();
});

beforeEach(() => fake.setScript(() => ({})));

async function tokenCounter(provider: string, type: string): Promise<number> {
  const text = await (await fetch(`${dp.adminUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (
      line.startsWith('sluice_tokens_total{') &&
      line.includes(`provider="${provider}"`) &&
      line.includes(`type="${type}"`)
    ) {
      sum += Number(line.split(' ').at(-1));
    }
  }
  return sum;
}

describe('OpenAI SDK -> anthropic provider', () => {
  it('answers a chat completion; sends system, max_tokens and Anthropic auth upstream', async () => {
    const res = await client.chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Say hello' },
      ],
    });
    expect(res.object).toBe('chat.completion');
    expect(res.choices[0]?.message.content).toBe('Hello from the fake Claude model with words');
    expect(res.choices[0]?.finish_reason).toBe('stop');
    const sent = fake.requests.at(-1);
    expect(sent?.rejected).toBeUndefined();
    expect(sent?.headers['x-api-key']).toBe(UPSTREAM_KEY);
    expect(sent?.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent?.headers.authorization).toBeUndefined();
    expect(sent?.body).toMatchObject({
      model: 'claude-sonnet-4-5',
      max_tokens: 2000,
      system: [{ type: 'text', text: 'You are terse.' }],
    });
    expect(res.usage?.completion_tokens).toBe(8);
    expect(res.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(res.usage?.total_tokens).toBe((res.usage?.prompt_tokens ?? 0) + 8);
  });

  it('maps max_tokens truncation to finish_reason length and stop sequences to stop', async () => {
    const capped = await client.chat.completions.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 3,
      messages: [{ role: 'user', content: 'Talk' }],
    });
    expect(capped.choices[0]?.message.content).toBe('Hello from the');
    expect(capped.choices[0]?.finish_reason).toBe('length');
    const stopped = await client.chat.completions.create({
      model: 'claude-sonnet-4-5',
      stop: ['fake'],
      messages: [{ role: 'user', content: 'Talk' }],
    });
    expect(stopped.choices[0]?.message.content).toBe('Hello from the ');
    expect(stopped.choices[0]?.finish_reason).toBe('stop');
    expect(fake.requests.at(-1)?.body?.stop_sequences).toEqual(['fake']);
  });

  it('streams text with stream usage (include_usage) covering input and output', async () => {
    fake.setScript(() => fixtures.pingsAndSplitFrames());
    const stream = await client.chat.completions.create({
      model: 'claude-sonnet-4-5',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Stream please' }],
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish ??= chunk.choices[0]?.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Pings do not break the answer.');
    expect(finish).toBe('stop');
    const sent = fake.requests.at(-1)?.body as Record<string, unknown>;
    expect(sent.stream).toBe(true);
    expect(sent.stream_options).toBeUndefined();
    expect(usage?.prompt_tokens).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('records streamed input tokens in metrics, including cache reads and writes (usage only in message_delta)', async () => {
    const before = await tokenCounter('claude', 'input');
    const cachedBefore = await tokenCounter('claude', 'cached_input');
    fake.setScript(() => fixtures.usageOnlyInDelta());
    const stream = await client.chat.completions.create({
      model: 'claude-sonnet-4-5',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'count me' }],
    });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    expect(usage).toEqual({
      prompt_tokens: 52,
      completion_tokens: 5,
      total_tokens: 57,
      prompt_tokens_details: { cached_tokens: 8 },
    });
    expect((await tokenCounter('claude', 'input')) - before).toBe(52);
    expect((await tokenCounter('claude', 'cached_input')) - cachedBefore).toBe(8);
  });

  it('reports cached prompt tokens on whole responses', async () => {
    fake.setScript(() => fixtures.cacheUsage());
    const res = await client.chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'cached' }],
    });
    expect(res.usage).toEqual({
      prompt_tokens: 130,
      completion_tokens: 3,
      total_tokens: 133,
      prompt_tokens_details: { cached_tokens: 100 },
    });
  });

  it('returns tool calls from text + two tool_use blocks, then accepts the tool results round trip', async () => {
    fake.setScript(() => fixtures.textAndTools());
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'user', content: 'Weather in Paris and Tokyo?' },
    ];
    const res = await client.chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages,
      tools: [weatherTool],
    });
    const msg = res.choices[0]?.message;
    expect(res.choices[0]?.finish_reason).toBe('tool_calls');
    expect(msg?.content).toBe('Let me check both cities.');
    expect(
      msg?.tool_calls?.map(
        (c) => c.type === 'function' && [c.id, c.function.name, JSON.parse(c.function.arguments)],
      ),
    ).toEqual([
      ['toolu_01B', 'get_weather', { city: 'Paris' }],
      ['toolu_01C', 'get_weather', { city: 'Tokyo' }],
    ]);
    fake.setScript(() => ({}));
    messages.push(msg as OpenAI.ChatCompletionMessageParam);
    messages.push({ role: 'tool', tool_call_id: 'toolu_01B', content: '18C' });
    messages.push({ role: 'tool', tool_call_id: 'toolu_01C', content: '25C' });
    const next = await client.chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages,
      tools: [weatherTool],
    });
    expect(next.choices[0]?.finish_reason).toBe('stop');
    const sent = fake.requests.at(-1);
    expect(sent?.rejected).toBeUndefined();
    expect((sent?.body?.messages as unknown[] | undefined)?.at(-1)).toEqual({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_01B', content: '18C' },
        { type: 'tool_result', tool_use_id: 'toolu_01C', content: '25C' },
      ],
    });
  });

  // What OpenAI clients send and Anthropic refuses: content "" or " " beside tool_calls, tool call ids
  // minted by another backend ('functions.get_weather:0'), a blank user turn, a final assistant
  // message ending in whitespace. Sluice sends what the fake (Anthropic's rules) takes.
  it('serves a history replayed from another backend: blank text left out, foreign ids mapped', async () => {
    const id = 'functions.get_weather:0';
    const res = await client.chat.completions.create({
      model: 'claude-sonnet-4-5',
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: ' ',
          tool_calls: [
            { id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          ],
        },
        { role: 'tool', tool_call_id: id, content: '18C' },
        { role: 'user', content: [{ type: 'text', text: '  ' }] },
        { role: 'assistant', content: 'It is ' },
      ],
    });
    expect(res.choices[0]?.finish_reason).toBe('stop');
    const sent = fake.requests.at(-1);
    expect(sent?.rejected).toBeUndefined();
    const messages = sent?.body?.messages as Array<{ role: string; content: Array<Record<string, unknown>> }>;
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    const use = messages[1]?.content[0];
    expect(use).toMatchObject({ type: 'tool_use', name: 'get_weather' });
    expect(messages[2]?.content[0]).toMatchObject({ type: 'tool_result', tool_use_id: use?.id });
    expect(messages[3]?.content).toEqual([{ type: 'text', text: 'It is' }]);
  });

  it('streams a tool call whose input arrives in small input_json_delta pieces', async () => {
    fake.setScript(() => fixtures.toolUseSplit());
    const runner = client.chat.completions.stream({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [weatherTool],
      tool_choice: 'required',
      stream_options: { include_usage: true },
    });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0];
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    expect(
      call?.type === 'function' && [call.id, call.function.name, JSON.parse(call.function.arguments)],
    ).toEqual(['toolu_01A', 'get_weather', { city: 'Paris', unit: 'celsius' }]);
    expect(final.usage).toMatchObject({ prompt_tokens: 120, completion_tokens: 31 });
    expect(fake.requests.at(-1)?.body?.tool_choice).toEqual({ type: 'any' });
  });

  it('answers response_format json_schema with JSON that follows the schema (output_config.format)', async () => {
    const schema = {
      type: 'object',
      properties: { answer: { type: 'number' }, unit: { type: 'string' } },
      required: ['answer', 'unit'],
      additionalProperties: false,
    };
    const res = await client.chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'How far is the moon?' }],
      response_format: { type: 'json_schema', json_schema: { name: 'distance', schema, strict: true } },
    });
    expect(JSON.parse(res.choices[0]?.message.content ?? '')).toEqual(sampleFor(schema));
    expect(fake.requests.at(-1)?.body?.output_config).toEqual({ format: { type: 'json_schema', schema } });
  });

  it('rejects what Anthropic cannot do with a 400 naming the provider and the feature, without calling it', async () => {
    const before = fake.requests.length;
    const err = await client.chat.completions
      .create({
        model: 'claude-sonnet-4-5',
        messages: [{ role: 'user', content: 'x' }],
        response_format: { type: 'json_object' },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.status).toBe(400);
    expect(e.code).toBe('SLUICE_ERR_UNSUPPORTED_FEATURE');
    expect(e.message).toContain(
      "provider 'claude' (Anthropic) does not support response_format 'json_object'",
    );
    expect(fake.requests.length).toBe(before);
  });

  it('ends a stream that fails mid-way with an OpenAI error event carrying the Anthropic error', async () => {
    fake.setScript(() => fixtures.errorMidStream());
    const stream = await client.chat.completions.create({
      model: 'claude-sonnet-4-5',
      stream: true,
      messages: [{ role: 'user', content: 'This will break' }],
    });
    let text = '';
    const err = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(text).toBe('This ans');
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(String((err as Error).message)).toContain('overloaded_error');
  });

  it('passes an upstream rejection on as a 400 with the provider, status and Anthropic message', async () => {
    fake.setScript(() => ({ status: 400, errorType: 'invalid_request_error' }));
    const err = await client.chat.completions
      .create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
    expect((err as Error).message).toContain("provider 'claude' answered 400: injected 400");
  });

  it('treats 529 overloaded_error as retryable on a route that lists it: the retry goes to the fallback', async () => {
    fake.setScript(() => fixtures.overloaded());
    const before = fake.requests.length;
    const res = await client.chat.completions.create({
      model: 'busy-claude',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(res.choices[0]?.message.content).toBe('fallback answer from mock');
    expect(fake.requests.length - before).toBe(1);
  });

  it('answers 502 naming the provider when Anthropic is overloaded and nothing else is left', async () => {
    fake.setScript(() => fixtures.overloaded());
    const err = await client.chat.completions
      .create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((err as Error).message).toContain("provider 'claude' answered 529");
  });
});
