// OpenAI -> Bedrock Converse translation: request bodies (system, merged alternating turns, tool
// results, images, toolConfig), SigV4 headers checked by an independent verifier, whole responses,
// and ConverseStream event-stream fixtures (tool input split across deltas, usage only in metadata,
// exceptions, corrupt CRCs, truncation) fed in pieces of every size.
import { describe, expect, it } from 'vitest';
import { type BedrockEvent, encodeFrame, eventFrame, textEvents } from '../../../../test/fakes/bedrock.ts';
import { verifySigV4 } from '../../../../test/fakes/sigv4_verify.ts';
import { resolvedProvider, sseChunks, translateContext } from '../../../../test/helpers/provider_context.ts';
import type { GatewayError } from '../../errors.ts';
import { toConverseRequest } from '../../wire/bedrock/from_openai.ts';
import { converseUsage, stopReason } from '../../wire/bedrock/to_openai.ts';
import type { StreamEvent } from '../types.ts';
import { openaiChatToBedrock } from './openai_to_bedrock.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const provider = resolvedProvider('bedrock', { region: 'us-west-2', credentials: KEYS, name: 'aws' });
const MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const ctx = (o: Parameters<typeof translateContext>[1] = {}) =>
  translateContext(provider, { model: MODEL, ...o });

describe('OpenAI chat -> Converse request', () => {
  it('maps system, merges turns, carries tool use and results, images as bytes', () => {
    const body = toConverseRequest(
      {
        model: 'x',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Weather?' },
          {
            role: 'user',
            content: [{ type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/4AAQ' } }],
          },
          {
            role: 'assistant',
            content: 'Checking.',
            tool_calls: [
              {
                id: 'tooluse_1',
                type: 'function',
                function: { name: 'weather', arguments: '{"city":"Paris"}' },
              },
              { id: 'tooluse_2', type: 'function', function: { name: 'weather', arguments: '' } },
            ],
          },
          { role: 'tool', tool_call_id: 'tooluse_1', content: '{"temp":21}' },
          { role: 'tool', tool_call_id: 'tooluse_2', content: 'no data' },
        ],
        tools: [
          {
            type: 'function',
            function: {
              name: 'weather',
              description: 'Get weather',
              parameters: { type: 'object', properties: { city: { type: 'string' } } },
            },
          },
        ],
        tool_choice: 'required',
        max_tokens: 300,
        temperature: 0.5,
        top_p: 0.8,
        stop: ['###'],
      },
      ctx(),
    );
    expect(body).toEqual({
      system: [{ text: 'Be brief.' }],
      messages: [
        {
          role: 'user',
          content: [{ text: 'Weather?' }, { image: { format: 'jpeg', source: { bytes: '/9j/4AAQ' } } }],
        },
        {
          role: 'assistant',
          content: [
            { text: 'Checking.' },
            { toolUse: { toolUseId: 'tooluse_1', name: 'weather', input: { city: 'Paris' } } },
            { toolUse: { toolUseId: 'tooluse_2', name: 'weather', input: {} } },
          ],
        },
        {
          role: 'user',
          content: [
            { toolResult: { toolUseId: 'tooluse_1', content: [{ json: { temp: 21 } }] } },
            { toolResult: { toolUseId: 'tooluse_2', content: [{ text: 'no data' }] } },
          ],
        },
      ],
      inferenceConfig: { maxTokens: 300, temperature: 0.5, topP: 0.8, stopSequences: ['###'] },
      toolConfig: {
        tools: [
          {
            toolSpec: {
              name: 'weather',
              description: 'Get weather',
              inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } },
            },
          },
        ],
        toolChoice: { any: {} },
      },
    });
  });

  it('maps tool_choice auto / named and drops tools for none', () => {
    const base = {
      model: 'x',
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ type: 'function', function: { name: 'f' } }],
    };
    expect(toConverseRequest({ ...base, tool_choice: 'auto' }, ctx()).toolConfig).toMatchObject({
      toolChoice: { auto: {} },
    });
    expect(
      toConverseRequest({ ...base, tool_choice: { type: 'function', function: { name: 'f' } } }, ctx())
        .toolConfig,
    ).toMatchObject({
      toolChoice: { tool: { name: 'f' } },
      tools: [{ toolSpec: { name: 'f', inputSchema: { json: { type: 'object', properties: {} } } } }],
    });
    expect(toConverseRequest({ ...base, tool_choice: 'none' }, ctx()).toolConfig).toBeUndefined();
  });

  it('rejects what Converse cannot carry with a 400 naming the provider', () => {
    const err = (body: Record<string, unknown>) => {
      try {
        toConverseRequest({ model: 'x', messages: [{ role: 'user', content: 'hi' }], ...body }, ctx());
      } catch (e) {
        return e as GatewayError;
      }
      throw new Error('expected a rejection');
    };
    const url = err({
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }],
    });
    expect(url.code).toBe('SLUICE_ERR_UNSUPPORTED_FEATURE');
    expect(url.message).toBe(
      "provider 'aws' (Amazon Bedrock (Converse)) does not support image URLs (send the image as a base64 data URL)",
    );
    expect(err({ response_format: { type: 'json_object' } }).message).toMatch(
      /does not support response_format 'json_object'/,
    );
    expect(err({ n: 3 }).param).toBe('n');
    expect(
      err({
        messages: [
          {
            role: 'user',
            content: [{ type: 'image_url', image_url: { url: 'data:image/tiff;base64,AA==' } }],
          },
        ],
      }).message,
    ).toMatch(/images of type image\/tiff/);
  });
});

describe('SigV4 signing', () => {
  it('produces headers an independent verifier accepts, and a wrong secret fails', async () => {
    const req = await openaiChatToBedrock.buildRequest(
      { model: 'x', messages: [{ role: 'user', content: 'hi' }] },
      ctx({ stream: true }),
    );
    expect(req.path).toBe('/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream');
    expect(req.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-west-2\/bedrock\/aws4_request, SignedHeaders=/,
    );
    expect(req.headers.host).toBe('bedrock-runtime.us-west-2.amazonaws.com');
    const keys = { ...KEYS, region: 'us-west-2', service: 'bedrock' };
    const body = Buffer.from(req.body);
    expect(verifySigV4('POST', req.path, req.headers, body, keys)).toBeUndefined();
    expect(
      verifySigV4('POST', req.path, req.headers, body, { ...keys, secretAccessKey: 'other' })?.errorType,
    ).toBe('InvalidSignatureException');
    expect(verifySigV4('POST', req.path, req.headers, Buffer.from('{}'), keys)?.status).toBe(403);
  });

  it('signs the session token when credentials are temporary', async () => {
    const p = resolvedProvider('bedrock', {
      region: 'eu-central-1',
      credentials: { ...KEYS, sessionToken: 'tok' },
    });
    const req = await openaiChatToBedrock.buildRequest(
      { model: 'x', messages: [{ role: 'user', content: 'hi' }] },
      translateContext(p),
    );
    expect(req.headers['x-amz-security-token']).toBe('tok');
    const keys = { ...KEYS, sessionToken: 'tok', region: 'eu-central-1', service: 'bedrock' };
    expect(verifySigV4('POST', req.path, req.headers, Buffer.from(req.body), keys)).toBeUndefined();
  });
});

describe('Converse response -> OpenAI', () => {
  it('maps text, tool use, stop reason and cache-aware usage', () => {
    const upstream = {
      output: {
        message: {
          role: 'assistant',
          content: [
            { text: 'Let me check.' },
            { toolUse: { toolUseId: 'tooluse_x', name: 'weather', input: { city: 'Oslo' } } },
          ],
        },
      },
      stopReason: 'tool_use',
      usage: {
        inputTokens: 100,
        outputTokens: 20,
        totalTokens: 170,
        cacheReadInputTokens: 40,
        cacheWriteInputTokens: 10,
      },
    };
    const out = openaiChatToBedrock.parseResponse(Buffer.from(JSON.stringify(upstream)), ctx());
    const body = JSON.parse(out.body.toString()) as {
      choices: Array<{ message: Record<string, unknown>; finish_reason: string }>;
      usage: Record<string, unknown>;
    };
    expect(body.choices[0]?.message).toMatchObject({
      content: 'Let me check.',
      tool_calls: [
        { id: 'tooluse_x', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
      ],
    });
    expect(body.choices[0]?.finish_reason).toBe('tool_calls');
    expect(body.usage).toEqual({
      prompt_tokens: 150,
      completion_tokens: 20,
      total_tokens: 170,
      prompt_tokens_details: { cached_tokens: 40 },
    });
    expect(out.usage).toEqual({
      inputTokens: 150,
      outputTokens: 20,
      cachedInputTokens: 40,
      cacheCreationInputTokens: 10,
    });
  });

  it('maps stop reasons and reads Bedrock errors', () => {
    expect(
      [
        'end_turn',
        'stop_sequence',
        'max_tokens',
        'tool_use',
        'guardrail_intervened',
        'content_filtered',
        'odd',
      ].map(stopReason),
    ).toEqual(['stop', 'stop', 'length', 'tool_calls', 'content_filter', 'content_filter', 'stop']);
    expect(converseUsage({ inputTokens: 3, outputTokens: 4 })).toEqual({ inputTokens: 3, outputTokens: 4 });
    expect(
      openaiChatToBedrock.parseError(400, Buffer.from('{"message":"A conversation must alternate"}'), ctx()),
    ).toEqual({
      message: 'A conversation must alternate',
      type: 'invalid_request_error',
      code: null,
    });
    // the exception name is the code, with or without its namespace
    expect(
      openaiChatToBedrock.parseError(
        403,
        Buffer.from('{"Message":"denied","__type":"com.amazon.coral.service#AccessDeniedException"}'),
        ctx(),
      ),
    ).toEqual({ message: 'denied', type: 'permission_error', code: 'AccessDeniedException' });
    // Bedrock runtime names it in the x-amzn-errortype header only (the body is {"message"})
    const header = {
      'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/',
    };
    expect(
      openaiChatToBedrock.parseError(429, Buffer.from('{"message":"Too many requests"}'), ctx(), header),
    ).toEqual({ message: 'Too many requests', type: 'rate_limit_error', code: 'ThrottlingException' });
    expect(openaiChatToBedrock.parseError(503, Buffer.from('<html>'), ctx(), header).code).toBe(
      'ThrottlingException',
    );
  });
});

const TOOL_STREAM: BedrockEvent[] = [
  { type: 'messageStart', payload: { role: 'assistant' } },
  { type: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'Checking ' } } },
  { type: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'both.' } } },
  { type: 'contentBlockStop', payload: { contentBlockIndex: 0 } },
  {
    type: 'contentBlockStart',
    payload: { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tooluse_A', name: 'weather' } } },
  },
  { type: 'contentBlockDelta', payload: { contentBlockIndex: 1, delta: { toolUse: { input: '{"ci' } } } },
  {
    type: 'contentBlockDelta',
    payload: { contentBlockIndex: 1, delta: { toolUse: { input: 'ty": "Paris"}' } } },
  },
  { type: 'contentBlockStop', payload: { contentBlockIndex: 1 } },
  {
    type: 'contentBlockStart',
    payload: { contentBlockIndex: 2, start: { toolUse: { toolUseId: 'tooluse_B', name: 'weather' } } },
  },
  {
    type: 'contentBlockDelta',
    payload: { contentBlockIndex: 2, delta: { toolUse: { input: '{"city": "Rome"}' } } },
  },
  { type: 'contentBlockStop', payload: { contentBlockIndex: 2 } },
  { type: 'messageStop', payload: { stopReason: 'tool_use' } },
  {
    type: 'metadata',
    payload: { usage: { inputTokens: 50, outputTokens: 30, totalTokens: 80 }, metrics: { latencyMs: 9 } },
  },
];

function runStream(bytes: Buffer, size: number, wantsUsage = true): { events: StreamEvent[]; out: string } {
  const st = openaiChatToBedrock.createStream(ctx({ stream: true, wantsUsage }));
  const events: StreamEvent[] = [];
  for (let i = 0; i < bytes.length; i += size) events.push(...st.push(bytes.subarray(i, i + size)));
  events.push(...st.end());
  return { events, out: events.map((e) => e.data.toString()).join('') };
}

describe('ConverseStream -> OpenAI chunks', () => {
  it('streams text and tool input split across deltas, usage from metadata, at any split', () => {
    const bytes = Buffer.concat(TOOL_STREAM.map(eventFrame));
    for (const size of [1, 13, 100, bytes.length]) {
      const { events, out } = runStream(bytes, size);
      const { chunks, done } = sseChunks(out);
      expect(done).toBe(true);
      const deltas = chunks.flatMap(
        (c) => (c.choices as Array<{ delta: Record<string, unknown>; finish_reason: string | null }>) ?? [],
      );
      expect(deltas.map((d) => d.delta.content ?? '').join('')).toBe('Checking both.');
      const calls = deltas.flatMap(
        (d) =>
          (d.delta.tool_calls as Array<{
            index: number;
            id?: string;
            function: { name?: string; arguments: string };
          }>) ?? [],
      );
      const byIndex = [0, 1].map((i) => ({
        id: calls.find((c) => c.index === i && c.id)?.id,
        args: calls
          .filter((c) => c.index === i)
          .map((c) => c.function.arguments)
          .join(''),
      }));
      expect(byIndex).toEqual([
        { id: 'tooluse_A', args: '{"city": "Paris"}' },
        { id: 'tooluse_B', args: '{"city": "Rome"}' },
      ]);
      expect(deltas.at(-1)?.finish_reason).toBe('tool_calls');
      expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 50, completion_tokens: 30, total_tokens: 80 });
      expect(events.at(-1)).toMatchObject({ done: true, usage: { inputTokens: 50, outputTokens: 30 } });
    }
  });

  it('closes a stream whose metadata event never came, and fails one that never stopped', () => {
    const noMeta = Buffer.concat(textEvents(['a', 'b']).slice(0, -1).map(eventFrame));
    const { out } = runStream(noMeta, 9, true);
    expect(sseChunks(out).done).toBe(true);
    const truncated = Buffer.concat(textEvents(['a', 'b']).slice(0, 2).map(eventFrame));
    expect(() => runStream(truncated, 9)).toThrow(/ended the stream before the answer was complete/);
  });

  it('turns an exception message into an upstream error', () => {
    const exc = encodeFrame(
      {
        ':exception-type': 'throttlingException',
        ':content-type': 'application/json',
        ':message-type': 'exception',
      },
      Buffer.from('{"message":"Too many requests"}'),
    );
    const bytes = Buffer.concat([eventFrame(TOOL_STREAM[0] as BedrockEvent), exc]);
    expect(() => runStream(bytes, 7)).toThrow(
      "provider 'aws' failed mid-stream: throttlingException: Too many requests",
    );
  });

  it('rejects a frame with a bad CRC instead of skipping it', () => {
    const frame = eventFrame(TOOL_STREAM[1] as BedrockEvent);
    frame[frame.length - 2] = (frame[frame.length - 2] as number) ^ 0x10;
    expect(() => runStream(frame, 64)).toThrow(/malformed event stream: corrupt event-stream message/);
  });
});

describe('Converse stop reasons', () => {
  it('maps the documented ones and anything else to stop, also names found on Object.prototype', () => {
    expect(['end_turn', 'max_tokens', 'tool_use', 'guardrail_intervened'].map((r) => stopReason(r))).toEqual([
      'stop',
      'length',
      'tool_calls',
      'content_filter',
    ]);
    for (const r of ['__proto__', 'constructor', 'toString', 'unknown_reason', undefined])
      expect(stopReason(r)).toBe('stop');
  });
});

// Found by test/reliability/translator_fuzz.test.ts: Bedrock refuses a conversation whose first turn is
// the assistant's ("A conversation must start with a user message"), which OpenAI and Anthropic take;
// the translator sent it anyway and the client read Bedrock's words instead of Sluice's 400.
describe('a conversation Bedrock cannot take', () => {
  it('refuses one that starts with an assistant turn, naming the provider', () => {
    let caught: GatewayError | undefined;
    try {
      toConverseRequest(
        {
          model: 'x',
          messages: [
            { role: 'system', content: 'Be brief.' },
            { role: 'assistant', content: 'Hello, how can I help?' },
            { role: 'user', content: 'hi' },
          ],
        },
        ctx(),
      );
    } catch (e) {
      caught = e as GatewayError;
    }
    expect(caught?.code).toBe('SLUICE_ERR_UNSUPPORTED_FEATURE');
    expect(caught?.param).toBe('messages');
    expect(caught?.message).toContain("provider 'aws'");
  });
});

// Found by the same fuzz: Bedrock refuses a blank text block ("The text field in the ContentBlock
// object ... is blank"), which OpenAI takes; a whitespace-only text part carries nothing, so it is
// left out (and a blank tool result is sent as '(empty)', like an empty one).
describe('blank text parts', () => {
  it('are left out of user turns and tool results never go blank', () => {
    const body = toConverseRequest(
      {
        model: 'x',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: ' ' },
              { type: 'text', text: 'hi' },
            ],
          },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: 't1', content: ' \n ' },
        ],
        tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      },
      ctx(),
    );
    const messages = body.messages as Array<{ content: Array<Record<string, unknown>> }>;
    expect(messages[0]?.content).toEqual([{ text: 'hi' }]);
    expect(messages[2]?.content).toEqual([
      { toolResult: { toolUseId: 't1', content: [{ text: '(empty)' }] } },
    ]);
  });
});
