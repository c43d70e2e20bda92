// OpenAI chat client -> Anthropic backend: request and response translation (no network). Translated
// Anthropic requests are also run through the fake Anthropic server's validator, which follows the
// documented API independently of the translators: what we send must be what the real API accepts.
// Streams are in openai_to_anthropic_stream.test.ts.
import { describe, expect, it } from 'vitest';
import { validateAnthropicRequest } from '../../../../test/fakes/anthropic_validate.ts';
import { ctxFor, PNG, rejection } from '../../../../test/providers/anthropic_helpers.ts';
import { openaiToAnthropic } from './openai_to_anthropic.ts';

async function toAnthropic(body: Record<string, unknown>, over = {}) {
  const ctx = ctxFor('anthropic', 'openai-chat', over);
  const req = await openaiToAnthropic.buildRequest(structuredClone(body), ctx);
  return { req, sent: JSON.parse(String(req.body)) as Record<string, unknown> };
}

function acceptedByAnthropic(headers: Record<string, string>, body: string): void {
  expect(
    validateAnthropicRequest(headers, body, { apiKey: 'k-123', versions: new Set(['2023-06-01']) }),
  ).toBeUndefined();
}

describe('OpenAI chat request -> Anthropic Messages request', () => {
  it('extracts system/developer messages, defaults max_tokens and sends x-api-key + anthropic-version', async () => {
    const { req, sent } = await toAnthropic({
      model: 'client-model',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'Hello' },
      ],
      stop: ['END'],
      user: 'u-42',
      temperature: 0.3,
    });
    expect(req.path).toBe('/v1/messages');
    expect(req.headers['x-api-key']).toBe('k-123');
    expect(req.headers['anthropic-version']).toBe('2023-06-01');
    expect(req.headers.authorization).toBeUndefined();
    expect(sent).toEqual({
      model: 'claude-up',
      max_tokens: 4096,
      system: [
        { type: 'text', text: 'Be brief.' },
        { type: 'text', text: 'Answer in French.' },
      ],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }],
      temperature: 0.3,
      stop_sequences: ['END'],
      metadata: { user_id: 'u-42' },
    });
    acceptedByAnthropic(req.headers, String(req.body));
  });

  it("takes max_tokens from the model's maxOutputTokens, and the client's value over both", async () => {
    const msgs = [{ role: 'user', content: 'x' }];
    expect((await toAnthropic({ messages: msgs }, { maxOutputTokens: 8192 })).sent.max_tokens).toBe(8192);
    expect((await toAnthropic({ messages: msgs, max_completion_tokens: 99 })).sent.max_tokens).toBe(99);
  });

  it('turns data-URL images into base64 sources and http URLs into url sources', async () => {
    const { req, sent } = await toAnthropic({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'low' } },
          ],
        },
      ],
    });
    expect((sent.messages as Array<{ content: unknown }>)[0]?.content).toEqual([
      { type: 'text', text: 'Compare' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
    acceptedByAnthropic(req.headers, String(req.body));
  });

  it('maps tools, tool_choice and a full tool round trip (tool results first in one user turn)', async () => {
    const { req, sent } = await toAnthropic({
      messages: [
        { role: 'user', content: 'Weather in Paris and Tokyo?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            {
              id: 'call_2',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18C' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '25C' }] },
        { role: 'user', content: 'And tomorrow?' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather for a city',
            parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          },
        },
      ],
      tool_choice: 'required',
      parallel_tool_calls: false,
    });
    expect(sent.tools).toEqual([
      {
        name: 'get_weather',
        description: 'Weather for a city',
        input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    ]);
    expect(sent.tool_choice).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(sent.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Tokyo?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'call_2', name: 'get_weather', input: { city: 'Tokyo' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: '18C' },
          { type: 'tool_result', tool_use_id: 'call_2', content: '25C' },
          { type: 'text', text: 'And tomorrow?' },
        ],
      },
    ]);
    acceptedByAnthropic(req.headers, String(req.body));
  });

  it('maps the named and none tool choices', async () => {
    const tools = [
      { type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } },
    ];
    const messages = [{ role: 'user', content: 'x' }];
    const named = await toAnthropic({
      messages,
      tools,
      tool_choice: { type: 'function', function: { name: 'f' } },
    });
    expect(named.sent.tool_choice).toEqual({ type: 'tool', name: 'f' });
    expect((await toAnthropic({ messages, tools, tool_choice: 'none' })).sent.tool_choice).toEqual({
      type: 'none',
    });
  });

  it('uses output_config.format for response_format json_schema', async () => {
    const schema = {
      type: 'object',
      properties: { answer: { type: 'number' } },
      required: ['answer'],
      additionalProperties: false,
    };
    const { req, sent } = await toAnthropic({
      messages: [{ role: 'user', content: '2+2?' }],
      response_format: { type: 'json_schema', json_schema: { name: 'math', schema, strict: true } },
    });
    expect(sent.output_config).toEqual({ format: { type: 'json_schema', schema } });
    acceptedByAnthropic(req.headers, String(req.body));
  });

  it('answers 400 naming the provider and the feature for what Anthropic cannot do', async () => {
    const messages = [{ role: 'user', content: 'x' }];
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ response_format: { type: 'json_object' } }, "response_format 'json_object'"],
      [{ n: 3 }, 'n > 1'],
      [{ logprobs: true }, 'logprobs'],
      [{ temperature: 1.5 }, 'temperature above 1'],
      [{ presence_penalty: 0.5 }, 'presence_penalty'],
      [
        {
          messages: [
            { role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }] },
          ],
        },
        'audio input',
      ],
      [
        {
          messages: [
            {
              role: 'user',
              content: [{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,AAA' } }],
            },
          ],
        },
        'image/bmp',
      ],
    ];
    for (const [extra, feature] of cases) {
      const err = await rejection(toAnthropic({ messages, ...extra }));
      expect(err.code).toBe('SLUICE_ERR_UNSUPPORTED_FEATURE');
      expect(err.status).toBe(400);
      expect(err.message).toContain("provider 'my-anthropic' (Anthropic) does not support");
      expect(err.message).toContain(feature);
    }
  });

  it('rejects tool call arguments that are not JSON as an invalid request', async () => {
    const err = await rejection(
      toAnthropic({
        messages: [
          { role: 'user', content: 'x' },
          {
            role: 'assistant',
            tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{oops' } }],
          },
          { role: 'tool', tool_call_id: 'c', content: 'r' },
        ],
      }),
    );
    expect(err.code).toBe('SLUICE_ERR_INVALID_REQUEST');
    expect(err.param).toBe('messages[1].tool_calls[0].function.arguments');
  });
});

describe('Anthropic message -> OpenAI chat.completion', () => {
  const ctx = ctxFor('anthropic', 'openai-chat');
  const message = (over: Record<string, unknown>) =>
    Buffer.from(
      JSON.stringify({
        id: 'msg_01',
        type: 'message',
        role: 'assistant',
        model: 'claude-up',
        content: [{ type: 'text', text: 'Hi' }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 10, output_tokens: 2 },
        ...over,
      }),
    );

  it('maps text, tool_use blocks and usage with cache reads and writes', () => {
    const out = openaiToAnthropic.parseResponse(
      message({
        content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
        ],
        stop_reason: 'tool_use',
        usage: {
          input_tokens: 10,
          output_tokens: 20,
          cache_read_input_tokens: 100,
          cache_creation_input_tokens: 5,
        },
      }),
      ctx,
    );
    const body = JSON.parse(String(out.body));
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0].finish_reason).toBe('tool_calls');
    expect(body.choices[0].message.content).toBe('Checking.');
    expect(body.choices[0].message.tool_calls).toEqual([
      { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
    ]);
    expect(body.usage).toEqual({
      prompt_tokens: 115,
      completion_tokens: 20,
      total_tokens: 135,
      prompt_tokens_details: { cached_tokens: 100 },
    });
    expect(out.usage).toEqual({
      inputTokens: 115,
      outputTokens: 20,
      cachedInputTokens: 100,
      cacheCreationInputTokens: 5,
    });
  });

  it('maps every stop reason', () => {
    const table: Record<string, string> = {
      end_turn: 'stop',
      stop_sequence: 'stop',
      max_tokens: 'length',
      tool_use: 'tool_calls',
      refusal: 'content_filter',
      model_context_window_exceeded: 'length',
      pause_turn: 'stop',
    };
    for (const [stop, finish] of Object.entries(table)) {
      const body = JSON.parse(
        String(openaiToAnthropic.parseResponse(message({ stop_reason: stop }), ctx).body),
      );
      expect([stop, body.choices[0].finish_reason]).toEqual([stop, finish]);
    }
  });

  it('reports a non-message body as an upstream error naming the provider', async () => {
    const err = await rejection(() =>
      openaiToAnthropic.parseResponse(Buffer.from('{"type":"completion"}'), ctx),
    );
    expect(err.code).toBe('SLUICE_ERR_UPSTREAM_ERROR');
    expect(err.message).toContain("'my-anthropic'");
  });

  it('reads Anthropic error bodies', () => {
    const info = openaiToAnthropic.parseError(
      529,
      Buffer.from('{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'),
      ctx,
    );
    expect(info).toEqual({ message: 'Overloaded', type: 'overloaded_error', code: 'overloaded_error' });
  });
});

// Found by test/reliability/translator_fuzz.test.ts: String() of a client value that has a
// non-function toString throws, so a hostile reasoning_effort was a 500 instead of the client's 400.
describe('hostile values in an OpenAI chat request for Anthropic', () => {
  it('refuses a reasoning_effort it cannot convert with a 400 naming it', async () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    for (const effort of [{ toString: 0 }, '__proto__', 9]) {
      const err = await rejection(toAnthropic({ ...body, reasoning_effort: effort }));
      expect(err.status).toBe(400);
      expect(err.param).toBe('reasoning_effort');
    }
  });

  it('reads a refusal part by its own field, never converting a stray one', async () => {
    const { sent } = await toAnthropic({
      model: 'm',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: [{ type: 'refusal', refusal: 'No.', text: { toString: 0 } }] },
        { role: 'user', content: 'why?' },
      ],
    });
    expect((sent.messages as Array<{ content: unknown }>)[1]?.content).toEqual([
      { type: 'text', text: 'No.' },
    ]);
  });
});

// Found by test/reliability/translator_fuzz.test.ts: a conversation of system messages only (a
// Responses request with `input: []` and instructions) went to Anthropic as `messages: []`, which it
// refuses; Gemini's and Bedrock's translators already answered the client's 400 themselves.
describe('a conversation with nothing but system messages', () => {
  it('is the client 400, not a body Anthropic refuses', async () => {
    const err = await rejection(
      toAnthropic({ model: 'm', messages: [{ role: 'system', content: 'Be brief.' }] }),
    );
    expect(err.code).toBe('SLUICE_ERR_INVALID_REQUEST');
    expect(err.param).toBe('messages');
  });
});
