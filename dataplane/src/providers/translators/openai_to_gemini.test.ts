// OpenAI -> Gemini translation against recorded-style fixtures: request bodies (roles, system
// instruction, parts, tools, JSON mode, schema clean-up), whole responses, errors and embeddings.
// Streams are in openai_to_gemini_stream.test.ts; hostile values and Gemini's limits in
// openai_to_gemini_limits.test.ts.
import { describe, expect, it } from 'vitest';
import { resolvedProvider, translateContext } from '../../../../test/helpers/provider_context.ts';
import type { GatewayError } from '../../errors.ts';
import { decodeToolCallId, toGeminiRequest, toGeminiSchema } from '../../wire/gemini/from_openai.ts';
import { finishReason, geminiUsage } from '../../wire/gemini/to_openai.ts';
import { openaiChatToGemini, openaiEmbeddingsToGemini } from './openai_to_gemini.ts';

const provider = resolvedProvider('gemini', { credentials: { apiKey: 'g-key' }, name: 'gem' });
const ctx = (o: Parameters<typeof translateContext>[1] = {}) =>
  translateContext(provider, { model: 'gemini-2.5-flash', ...o });
const PNG = 'iVBORw0KGgo=';

describe('OpenAI chat -> Gemini request', () => {
  it('maps roles, system instruction, parts and tool turns', () => {
    const body = toGeminiRequest(
      {
        model: 'g',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'developer', content: [{ type: 'text', text: 'Use metric units.' }] },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Weather in Paris and Rome?' },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
              { type: 'image_url', image_url: { url: 'https://example.com/map.webp?x=1' } },
            ],
          },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_a',
                type: 'function',
                function: { name: 'weather', arguments: '{"city":"Paris"}' },
              },
              {
                id: 'call_b__thought__c2lnbmF0dXJl',
                type: 'function',
                function: { name: 'weather', arguments: '{"city":"Rome"}' },
              },
            ],
          },
          { role: 'tool', tool_call_id: 'call_a', content: '{"temp":21}' },
          { role: 'tool', tool_call_id: 'call_b__thought__c2lnbmF0dXJl', content: 'sunny' },
        ],
      },
      ctx(),
    );
    expect(body).toEqual({
      systemInstruction: { parts: [{ text: 'Be brief.' }, { text: 'Use metric units.' }] },
      contents: [
        {
          role: 'user',
          parts: [
            { text: 'Weather in Paris and Rome?' },
            { inlineData: { mimeType: 'image/png', data: PNG } },
            { fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/map.webp?x=1' } },
          ],
        },
        {
          role: 'model',
          parts: [
            { functionCall: { name: 'weather', args: { city: 'Paris' } } },
            { functionCall: { name: 'weather', args: { city: 'Rome' } }, thoughtSignature: 'c2lnbmF0dXJl' },
          ],
        },
        {
          role: 'user',
          parts: [
            { functionResponse: { name: 'weather', response: { temp: 21 } } },
            { functionResponse: { name: 'weather', response: { result: 'sunny' } } },
          ],
        },
      ],
    });
  });

  it('maps sampling, stop, JSON schema mode, tools and tool_choice', () => {
    const body = toGeminiRequest(
      {
        model: 'g',
        messages: [{ role: 'user', content: 'hi' }],
        temperature: 0.2,
        top_p: 0.9,
        max_completion_tokens: 50,
        stop: 'END',
        n: 2,
        seed: 7,
        reasoning_effort: 'low',
        response_format: {
          type: 'json_schema',
          json_schema: {
            name: 'x',
            schema: {
              type: 'object',
              properties: { a: { type: ['string', 'null'] } },
              additionalProperties: false,
            },
          },
        },
        tools: [
          {
            type: 'function',
            function: {
              name: 'lookup',
              description: 'Find things',
              parameters: {
                $schema: 'http://json-schema.org/draft-07/schema#',
                type: 'object',
                properties: { q: { type: 'string' } },
                required: ['q'],
                additionalProperties: false,
              },
            },
          },
          { type: 'function', function: { name: 'ping', parameters: { type: 'object', properties: {} } } },
        ],
        tool_choice: { type: 'function', function: { name: 'lookup' } },
      },
      ctx(),
    );
    expect(body.generationConfig).toEqual({
      temperature: 0.2,
      topP: 0.9,
      maxOutputTokens: 50,
      stopSequences: ['END'],
      candidateCount: 2,
      seed: 7,
      thinkingConfig: { thinkingBudget: 1024 },
      responseMimeType: 'application/json',
      responseSchema: { type: 'OBJECT', properties: { a: { type: 'STRING', nullable: true } } },
    });
    expect(body.tools).toEqual([
      {
        functionDeclarations: [
          {
            name: 'lookup',
            description: 'Find things',
            parameters: { type: 'OBJECT', properties: { q: { type: 'STRING' } }, required: ['q'] },
          },
          { name: 'ping' },
        ],
      },
    ]);
    expect(body.toolConfig).toEqual({
      functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['lookup'] },
    });
  });

  it('inlines local $refs and turns const into enum', () => {
    const schema = {
      type: 'object',
      $defs: { Unit: { type: 'string', enum: ['c', 'f'] } },
      properties: {
        unit: { $ref: '#/$defs/Unit' },
        kind: { const: 'temp' },
        tags: { type: 'array', items: { $ref: '#/$defs/Unit' } },
      },
    };
    expect(toGeminiSchema(schema)).toEqual({
      type: 'OBJECT',
      properties: {
        unit: { type: 'STRING', enum: ['c', 'f'] },
        kind: { enum: ['temp'] },
        tags: { type: 'ARRAY', items: { type: 'STRING', enum: ['c', 'f'] } },
      },
    });
  });

  it('builds the URL and auth header of the preset, streaming with alt=sse', async () => {
    const req = await openaiChatToGemini.buildRequest(
      { model: 'x', messages: [{ role: 'user', content: 'hi' }] },
      ctx({ stream: true }),
    );
    expect(req.path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    expect(req.headers['x-goog-api-key']).toBe('g-key');
    expect(req.headers.authorization).toBeUndefined();
    const whole = await openaiChatToGemini.buildRequest(
      { model: 'x', messages: [{ role: 'user', content: 'hi' }] },
      ctx({ model: 'models/gemini-pro' }),
    );
    expect(whole.path).toBe('/v1beta/models/gemini-pro:generateContent');
  });

  it('rejects what Gemini cannot express with a 400 naming the provider and feature', () => {
    const attempt = (
      extra: Record<string, unknown>,
      messages: unknown[] = [{ role: 'user', content: 'hi' }],
    ) => {
      try {
        toGeminiRequest({ model: 'x', messages, ...extra }, ctx());
      } catch (err) {
        return err as GatewayError;
      }
      throw new Error('expected a rejection');
    };
    const lp = attempt({ logprobs: true });
    expect(lp.status).toBe(400);
    expect(lp.code).toBe('SLUICE_ERR_UNSUPPORTED_FEATURE');
    expect(lp.message).toBe("provider 'gem' (Google Gemini API) does not support logprobs");
    expect(attempt({ tools: [{ type: 'web_search' }] }).message).toMatch(
      /does not support tools of type 'web_search'/,
    );
    expect(attempt({}, [{ role: 'system', content: 'only system' }]).code).toBe('SLUICE_ERR_INVALID_REQUEST');
    const orphan = attempt({}, [
      { role: 'user', content: 'x' },
      { role: 'tool', tool_call_id: 'nope', content: 'r' },
    ]);
    expect(orphan.param).toBe('messages[1].tool_call_id');
    const badArgs = attempt({}, [
      { role: 'user', content: 'x' },
      {
        role: 'assistant',
        tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{not json' } }],
      },
    ]);
    expect(badArgs.param).toBe('messages[1].tool_calls[0].function.arguments');
  });
});

describe('Gemini response -> OpenAI', () => {
  it('maps text, thoughts, function calls, finish reason and usage', () => {
    const upstream = {
      responseId: 'r1',
      modelVersion: 'gemini-2.5-flash-001',
      candidates: [
        {
          index: 0,
          finishReason: 'STOP',
          content: {
            role: 'model',
            parts: [
              { text: 'Let me think.', thought: true },
              { text: 'Checking ' },
              { text: 'the weather.' },
              {
                functionCall: { name: 'weather', args: { city: 'Paris' } },
                thoughtSignature: 'Cq8BAVKhc7+/Zg==',
              },
            ],
          },
        },
      ],
      usageMetadata: {
        promptTokenCount: 30,
        candidatesTokenCount: 12,
        thoughtsTokenCount: 5,
        cachedContentTokenCount: 10,
        totalTokenCount: 47,
      },
    };
    const out = openaiChatToGemini.parseResponse(Buffer.from(JSON.stringify(upstream)), ctx());
    const body = JSON.parse(out.body.toString()) as {
      id: string;
      model: string;
      choices: Array<{ message: Record<string, unknown>; finish_reason: string }>;
      usage: Record<string, unknown>;
    };
    expect(body.id).toBe('chatcmpl-r1');
    expect(body.model).toBe('gemini-2.5-flash-001');
    const msg = body.choices[0]?.message as {
      content: string;
      reasoning_content: string;
      tool_calls: Array<{ id: string; function: { name: string; arguments: string } }>;
    };
    expect(msg.content).toBe('Checking the weather.');
    expect(msg.reasoning_content).toBe('Let me think.');
    expect(msg.tool_calls[0]?.function).toEqual({ name: 'weather', arguments: '{"city":"Paris"}' });
    expect(decodeToolCallId(msg.tool_calls[0]?.id ?? '').signature).toBe('Cq8BAVKhc7+/Zg==');
    expect(msg.tool_calls[0]?.id).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(body.choices[0]?.finish_reason).toBe('tool_calls');
    expect(body.usage).toEqual({
      prompt_tokens: 30,
      completion_tokens: 17,
      total_tokens: 47,
      prompt_tokens_details: { cached_tokens: 10 },
      completion_tokens_details: { reasoning_tokens: 5 },
    });
    expect(out.usage).toEqual({
      inputTokens: 30,
      outputTokens: 17,
      cachedInputTokens: 10,
      reasoningTokens: 5,
    });
  });

  it('maps every finish reason family', () => {
    expect(finishReason('STOP', false)).toBe('stop');
    expect(finishReason('MAX_TOKENS', false)).toBe('length');
    for (const r of ['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII'])
      expect(finishReason(r, false)).toBe('content_filter');
    expect(finishReason('STOP', true)).toBe('tool_calls');
    expect(geminiUsage({ promptTokenCount: 4, toolUsePromptTokenCount: 2 })).toEqual({
      inputTokens: 6,
      outputTokens: 0,
    });
  });

  it('turns a blocked prompt into a content_filter choice', () => {
    const out = openaiChatToGemini.parseResponse(
      Buffer.from(
        JSON.stringify({ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 9 } }),
      ),
      ctx(),
    );
    const body = JSON.parse(out.body.toString()) as {
      choices: Array<{ finish_reason: string; message: { content: string } }>;
    };
    expect(body.choices[0]?.finish_reason).toBe('content_filter');
    expect(body.choices[0]?.message.content).toBe('');
  });

  it('reads the Google error shape', () => {
    const info = openaiChatToGemini.parseError(
      400,
      Buffer.from('{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT"}}'),
      ctx(),
    );
    expect(info).toEqual({
      message: 'API key not valid.',
      type: 'invalid_request_error',
      code: 'INVALID_ARGUMENT',
    });
  });
});

describe('OpenAI embeddings -> Gemini batchEmbedContents', () => {
  it('builds one request per input and answers in OpenAI shape (float and base64)', async () => {
    const ectx = ctx({ clientApi: 'openai-embeddings', model: 'text-embedding-004' });
    const req = await openaiEmbeddingsToGemini.buildRequest(
      { model: 'e', input: ['a', 'bb'], dimensions: 3 },
      ectx,
    );
    expect(req.path).toBe('/v1beta/models/text-embedding-004:batchEmbedContents');
    expect(JSON.parse(req.body.toString())).toEqual({
      requests: [
        { model: 'models/text-embedding-004', content: { parts: [{ text: 'a' }] }, outputDimensionality: 3 },
        { model: 'models/text-embedding-004', content: { parts: [{ text: 'bb' }] }, outputDimensionality: 3 },
      ],
    });
    const upstream = Buffer.from(
      JSON.stringify({ embeddings: [{ values: [0.5, -1, 2] }, { values: [1, 2, 3] }] }),
    );
    const out = JSON.parse(openaiEmbeddingsToGemini.parseResponse(upstream, ectx).body.toString()) as {
      data: Array<{ index: number; embedding: number[] }>;
      usage: { prompt_tokens: number };
    };
    expect(out.data.map((d) => d.embedding)).toEqual([
      [0.5, -1, 2],
      [1, 2, 3],
    ]);
    expect(out.usage.prompt_tokens).toBe(2);

    const bctx = ctx({ clientApi: 'openai-embeddings', model: 'text-embedding-004' });
    await openaiEmbeddingsToGemini.buildRequest({ model: 'e', input: 'a', encoding_format: 'base64' }, bctx);
    const b64 = JSON.parse(openaiEmbeddingsToGemini.parseResponse(upstream, bctx).body.toString()) as {
      data: Array<{ embedding: string }>;
    };
    const raw = Buffer.from(b64.data[0]?.embedding ?? '', 'base64');
    expect(raw.length).toBe(12);
    expect([0, 4, 8].map((o) => raw.readFloatLE(o))).toEqual([0.5, -1, 2]);
  });

  it.each([
    ['a string', '12'],
    ['negative', -5],
    ['1e308', 1e308],
    ['null', null],
  ])('a reported count that is %s is not charged: Sluice counts the input itself', async (_, bad) => {
    const ectx = ctx({ clientApi: 'openai-embeddings', model: 'text-embedding-004' });
    await openaiEmbeddingsToGemini.buildRequest({ model: 'e', input: ['a', 'bb'] }, ectx);
    const upstream = Buffer.from(
      JSON.stringify({
        embeddings: [{ values: [1] }, { values: [2] }],
        usageMetadata: { promptTokenCount: bad },
      }),
    );
    const r = openaiEmbeddingsToGemini.parseResponse(upstream, ectx);
    expect(r.usage).toEqual({ inputTokens: 2, outputTokens: 0, estimated: true });
    expect(JSON.parse(r.body.toString()).usage).toEqual({ prompt_tokens: 2, total_tokens: 2 });
  });

  it('rejects token-array input with a 400 naming the provider', async () => {
    await expect(
      Promise.resolve().then(() =>
        openaiEmbeddingsToGemini.buildRequest(
          { model: 'e', input: [[1, 2, 3]] },
          ctx({ clientApi: 'openai-embeddings' }),
        ),
      ),
    ).rejects.toMatchObject({ status: 400, message: expect.stringContaining("provider 'gem'") });
  });
});

// Found by test/reliability/translator_fuzz.test.ts: a client value shown in an error message went
// through String(), which throws for {"toString": 0} (a 500), and reasoning_effort was looked up on a
// plain object, so '__proto__' or 'constructor' found Object.prototype members and went to Gemini.
