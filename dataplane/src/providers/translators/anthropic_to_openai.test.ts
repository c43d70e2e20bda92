// Anthropic client -> OpenAI-compatible backend: the request and response translated both ways, and a
// stream of OpenAI chunks (fed in pieces of every size) turned into the Anthropic event grammar the
// SDKs rely on, with the token-cap endings (no network).
import { describe, expect, it } from 'vitest';
import {
  assemble,
  assertAnthropicGrammar,
  ctxFor,
  type J,
  joined,
  mergedUsage,
  PNG,
  parseSse,
  pieces,
  rejection,
  run,
} from '../../../../test/providers/anthropic_helpers.ts';
import { GatewayError } from '../../errors.ts';
import { countPromptTokens, encodingForModel } from '../../tokens/counter.ts';
import type { StreamEvent, TranslateContext } from '../types.ts';
import { anthropicToOpenAI } from './anthropic_to_openai.ts';

/** The prompt the OpenAI-backend stream tests build ('x' * 40, one turn) counted as Sluice counts it. */
const PROMPT_TOKENS = countPromptTokens('x'.repeat(40), 1, encodingForModel('gpt-up'));

describe('Anthropic request -> OpenAI-compatible backend', () => {
  const build = async (type: string, body: Record<string, unknown>, stream = false) => {
    const ctx = ctxFor(type, 'anthropic-messages', { stream });
    const req = await anthropicToOpenAI.buildRequest(structuredClone(body), ctx);
    return { req, sent: JSON.parse(String(req.body)) as Record<string, unknown> };
  };

  it('translates system, images, tool use and results, tool_choice and stream usage', async () => {
    const { req, sent } = await build(
      'openai',
      {
        model: 'client-model',
        max_tokens: 300,
        system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
        stop_sequences: ['###'],
        metadata: { user_id: 'u-1' },
        stream: true,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
            ],
          },
          {
            role: 'assistant',
            content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { q: 'png' } }],
          },
          {
            role: 'user',
            content: [
              {
                type: 'tool_result',
                tool_use_id: 'toolu_1',
                content: [{ type: 'text', text: 'an image format' }],
              },
              { type: 'text', text: 'Thanks' },
            ],
          },
        ],
        tools: [
          {
            name: 'lookup',
            description: 'Look up',
            input_schema: { type: 'object', properties: { q: { type: 'string' } } },
          },
        ],
        tool_choice: { type: 'tool', name: 'lookup', disable_parallel_tool_use: true },
      },
      true,
    );
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.headers.authorization).toBe('Bearer k-123');
    expect(sent).toEqual({
      model: 'claude-up',
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'toolu_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"png"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'an image format' },
        { role: 'user', content: 'Thanks' },
      ],
      // the openai preset sends OpenAI's current name, the only one reasoning models take (9dc7b31)
      max_completion_tokens: 300,
      stop: ['###'],
      user: 'u-1',
      tools: [
        {
          type: 'function',
          function: {
            name: 'lookup',
            description: 'Look up',
            parameters: { type: 'object', properties: { q: { type: 'string' } } },
          },
        },
      ],
      tool_choice: { type: 'function', function: { name: 'lookup' } },
      parallel_tool_calls: false,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("treats tools typed 'custom' or null as client tools", async () => {
    const schema = { type: 'object', properties: {} };
    const { sent } = await build('openai', {
      model: 'm',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'x' }],
      tools: [
        { type: 'custom', name: 'a', input_schema: schema },
        { type: null, name: 'b', input_schema: schema },
      ],
    });
    expect(sent.tools).toEqual([
      { type: 'function', function: { name: 'a', parameters: schema } },
      { type: 'function', function: { name: 'b', parameters: schema } },
    ]);
  });

  // found by test/reliability/translator_fuzz.test.ts: these went through String(), which throws for
  // an object whose toString is not a function: a 500 where the client should get its 400
  it('answers 400 for hostile server tool types, output formats and efforts', async () => {
    const base = { model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] };
    const hostile = { toString: 0 };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ tools: [{ type: hostile, name: 'web_search' }] }, 'tools[0].type'],
      [{ output_config: { format: { type: hostile } } }, 'output_config.format'],
      [{ output_config: { effort: hostile } }, 'output_config.effort'],
    ];
    for (const [extra, param] of cases) {
      const err = await rejection(build('openai', { ...base, ...extra }));
      expect(err.status).toBe(400);
      expect(err.param).toBe(param);
    }
  });

  it('answers 400 naming the provider and feature for Anthropic-only features', async () => {
    const base = { model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] };
    const doc = { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBE' } };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ messages: [{ role: 'user', content: [doc] }] }, "'document' content blocks"],
      [{ top_k: 5 }, 'top_k'],
      [{ thinking: { type: 'enabled', budget_tokens: 2048 } }, 'extended thinking'],
      [{ tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, 'server tools'],
      [{ mcp_servers: [] }, "'mcp_servers'"],
    ];
    for (const [extra, feature] of cases) {
      const err = await rejection(build('openai', { ...base, ...extra }));
      expect(err.code).toBe('SLUICE_ERR_UNSUPPORTED_FEATURE');
      expect(err.message).toContain("provider 'my-openai' (OpenAI) does not support");
      expect(err.message).toContain(feature);
    }
  });

  it('turns an OpenAI completion into an Anthropic message with tool_use and usage', () => {
    const ctx = ctxFor('openai', 'anthropic-messages');
    const out = anthropicToOpenAI.parseResponse(
      Buffer.from(
        JSON.stringify({
          id: 'chatcmpl-9',
          object: 'chat.completion',
          model: 'gpt-up',
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: 'Looking it up.',
                tool_calls: [
                  { id: 'call_9', type: 'function', function: { name: 'lookup', arguments: '{"q":"a"}' } },
                ],
              },
              finish_reason: 'tool_calls',
            },
          ],
          usage: {
            prompt_tokens: 50,
            completion_tokens: 9,
            total_tokens: 59,
            prompt_tokens_details: { cached_tokens: 30 },
          },
        }),
      ),
      ctx,
    );
    expect(JSON.parse(String(out.body))).toEqual({
      id: 'msg_chatcmpl-9',
      type: 'message',
      role: 'assistant',
      model: 'gpt-up',
      content: [
        { type: 'text', text: 'Looking it up.' },
        { type: 'tool_use', id: 'call_9', name: 'lookup', input: { q: 'a' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: {
        input_tokens: 20,
        output_tokens: 9,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 30,
      },
    });
    expect(out.usage).toEqual({ inputTokens: 50, outputTokens: 9, cachedInputTokens: 30 });
  });
});

/** OpenAI chunks as a compatible server streams them: text, then two tool calls split by index. */
function openaiChunks(withUsage: boolean): string {
  const base = { id: 'chatcmpl-77', object: 'chat.completion.chunk', created: 1, model: 'gpt-up' };
  const c = (delta: unknown, finish: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  const frames: unknown[] = [
    c({ role: 'assistant', content: '' }),
    c({ content: 'Checking ' }),
    c({ content: 'both.' }),
    c({
      tool_calls: [
        { index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } },
      ],
    }),
    c({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
    c({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
    c({
      tool_calls: [
        {
          index: 1,
          id: 'call_b',
          type: 'function',
          function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' },
        },
      ],
    }),
    c({}, 'tool_calls'),
  ];
  if (withUsage)
    frames.push({
      ...base,
      choices: [],
      usage: { prompt_tokens: 31, completion_tokens: 17, total_tokens: 48 },
    });
  return `${frames.map((f) => `data: ${JSON.stringify(f)}\n\n`).join('')}data: [DONE]\n\n`;
}

describe('OpenAI chunks -> Anthropic events', () => {
  const ctx = async (): Promise<TranslateContext> => {
    const c = ctxFor('openai', 'anthropic-messages', { stream: true, clientWantsStreamUsage: true });
    // buildRequest records the prompt count message_start reports, with the model's tokenizer
    await anthropicToOpenAI.buildRequest(
      { model: 'm', max_tokens: 50, messages: [{ role: 'user', content: 'x'.repeat(40) }], stream: true },
      c,
    );
    return c;
  };

  for (const size of [1, 9, 100_000]) {
    it(`emits the full Anthropic sequence with text and two tool_use blocks (pieces of ${size})`, async () => {
      const events = run(anthropicToOpenAI.createStream(await ctx()), pieces(openaiChunks(true), size));
      const out = parseSse(joined(events));
      assertAnthropicGrammar(out);
      expect(out[1]?.event).toBe('ping');
      const start = out[0]?.data as J;
      expect(start.message).toMatchObject({
        id: 'msg_chatcmpl-77',
        role: 'assistant',
        model: 'gpt-up',
        content: [],
      });
      expect(start.message?.usage?.input_tokens).toBe(PROMPT_TOKENS);
      expect(assemble(out)).toEqual({
        text: 'Checking both.',
        tools: [
          { id: 'call_a', name: 'get_weather', input: { city: 'Paris' } },
          { id: 'call_b', name: 'get_weather', input: { city: 'Tokyo' } },
        ],
      });
      const delta = out.at(-2)?.data as J;
      expect(delta.delta).toEqual({ stop_reason: 'tool_use', stop_sequence: null });
      expect(delta.usage).toEqual({
        input_tokens: 31,
        output_tokens: 17,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      });
      expect(mergedUsage(events)).toEqual({ inputTokens: 31, outputTokens: 17 });
    });
  }

  it('counts the answer itself when the upstream sends no usage', async () => {
    const events = run(anthropicToOpenAI.createStream(await ctx()), [Buffer.from(openaiChunks(false))]);
    const delta = parseSse(joined(events)).at(-2)?.data as J;
    expect(delta.usage?.input_tokens).toBe(PROMPT_TOKENS);
    expect(delta.usage?.output_tokens).toBeGreaterThan(0);
    expect(mergedUsage(events)).toBeUndefined();
  });

  it('ends a cap cut inside a batch with the blocks the client saw: no trace of never-sent blocks', async () => {
    const st = anthropicToOpenAI.createStream(await ctx());
    const events = st.push(Buffer.from(openaiChunks(true)));
    const cutIndex = events.findIndex((e) => e.text === 'both.');
    const cut = events[cutIndex] as StreamEvent;
    const sent = joined(events.slice(0, cutIndex));
    const ending = st.textChunk('bo', cut) + st.finish('length', { inputTokens: 31, outputTokens: 3 }, cut);
    const out = parseSse(sent + ending);
    assertAnthropicGrammar(out);
    expect(assemble(out)).toEqual({ text: 'Checking bo', tools: [] });
    const delta = out.at(-2)?.data as J;
    expect(delta.delta?.stop_reason).toBe('max_tokens');
    expect(delta.usage).toMatchObject({ input_tokens: 31, output_tokens: 3 });
  });

  it('ends a cap on the very first text with a well-formed (empty) message', async () => {
    const st = anthropicToOpenAI.createStream(await ctx());
    const events = st.push(Buffer.from(openaiChunks(true)));
    const cutIndex = events.findIndex((e) => e.text);
    const out = parseSse(
      joined(events.slice(0, cutIndex)) +
        st.finish('length', { inputTokens: 31, outputTokens: 0 }, events[cutIndex]),
    );
    assertAnthropicGrammar(out);
    expect(
      out.filter((e) => (e.data as Record<string, unknown>).type === 'content_block_start'),
    ).toHaveLength(0);
  });

  it('sends a failure after the first byte as an Anthropic error event', async () => {
    const st = anthropicToOpenAI.createStream(await ctx());
    const frame = st.errorEvent(new GatewayError('SLUICE_ERR_UPSTREAM_TIMEOUT', "provider 'x': stream idle"));
    expect(parseSse(frame)).toEqual([
      {
        event: 'error',
        data: {
          type: 'error',
          error: {
            type: 'timeout_error',
            message: "provider 'x': stream idle",
            details: { error_code: 'SLUICE_ERR_UPSTREAM_TIMEOUT' },
          },
        },
      },
    ]);
  });
});
