// Stream translation with recorded-style fixtures, fed in pieces of every size so frames split anywhere:
// Anthropic events -> OpenAI chunks (tool calls by index/id, usage from message_start + message_delta),
// Anthropic passthrough (bytes unchanged, usage read), OpenAI chunks -> the Anthropic event grammar,
// and the token-cap endings each client format needs.
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../dataplane/src/errors.ts';
import { anthropicToAnthropic } from '../../dataplane/src/providers/translators/anthropic_to_anthropic.ts';
import { anthropicToOpenAI } from '../../dataplane/src/providers/translators/anthropic_to_openai.ts';
import { openaiToAnthropic } from '../../dataplane/src/providers/translators/openai_to_anthropic.ts';
import type {
  StreamEvent,
  StreamTranslator,
  TranslateContext,
  Usage,
} from '../../dataplane/src/providers/types.ts';
import { countPromptTokens, encodingForModel } from '../../dataplane/src/tokens/counter.ts';
import {
  anthropicSse,
  assemble,
  assertAnthropicGrammar,
  ctxFor,
  type J,
  parseSse,
  pieces,
} from './anthropic_helpers.ts';

/** The prompt the OpenAI-backend stream tests build ('x' * 40, one turn) counted as Sluice counts it. */
const PROMPT_TOKENS = countPromptTokens('x'.repeat(40), 1, encodingForModel('gpt-up'));

function run(st: StreamTranslator, bytes: Buffer[]): StreamEvent[] {
  const out: StreamEvent[] = [];
  for (const b of bytes) out.push(...st.push(b));
  out.push(...st.end());
  return out;
}

const joined = (events: StreamEvent[]) => events.map((e) => String(e.data)).join('');
/** usage as the core sees it: later events' counters overwrite earlier ones */
function mergedUsage(events: StreamEvent[]): Usage | undefined {
  let usage: Usage | undefined;
  for (const e of events)
    if (e.usage) usage = Object.assign(usage ?? { inputTokens: 0, outputTokens: 0 }, e.usage);
  return usage;
}

/** Recorded-style Anthropic stream: text, then a tool call whose JSON arrives in small pieces. */
const TEXT_AND_TOOL = anthropicSse([
  {
    type: 'message_start',
    message: {
      id: 'msg_01X',
      type: 'message',
      role: 'assistant',
      model: 'claude-up',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: 472,
        output_tokens: 2,
        cache_read_input_tokens: 128,
        cache_creation_input_tokens: 0,
      },
    },
  },
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  { type: 'ping' },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Okay, let me ' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'check.' } },
  { type: 'content_block_stop', index: 0 },
  {
    type: 'content_block_start',
    index: 1,
    content_block: { type: 'tool_use', id: 'toolu_01T', name: 'get_weather', input: {} },
  },
  { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '' } },
  {
    type: 'content_block_delta',
    index: 1,
    delta: { type: 'input_json_delta', partial_json: '{"city": "Sa' },
  },
  {
    type: 'content_block_delta',
    index: 1,
    delta: { type: 'input_json_delta', partial_json: 'n Francisco"' },
  },
  {
    type: 'content_block_delta',
    index: 1,
    delta: { type: 'input_json_delta', partial_json: ', "unit": "celsius"}' },
  },
  { type: 'content_block_stop', index: 1 },
  {
    type: 'message_delta',
    delta: { stop_reason: 'tool_use', stop_sequence: null },
    usage: { output_tokens: 89 },
  },
  { type: 'message_stop' },
]);

/** Usage only in message_delta (message_start reports zeros), as newer API versions may send it. */
const USAGE_IN_DELTA = anthropicSse([
  {
    type: 'message_start',
    message: {
      id: 'msg_02',
      type: 'message',
      role: 'assistant',
      model: 'claude-up',
      content: [],
      usage: { input_tokens: 0, output_tokens: 0 },
    },
  },
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } },
  { type: 'content_block_stop', index: 0 },
  {
    type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { input_tokens: 40, output_tokens: 3, cache_read_input_tokens: 10 },
  },
  { type: 'message_stop' },
]);

describe('Anthropic events -> OpenAI chunks', () => {
  const ctx = (wants: boolean) =>
    ctxFor('anthropic', 'openai-chat', { stream: true, clientWantsStreamUsage: wants });

  for (const size of [1, 2, 3, 7, 64, 100_000]) {
    it(`translates text + a split tool call with usage from both ends (pieces of ${size} bytes)`, () => {
      const events = run(openaiToAnthropic.createStream(ctx(true)), pieces(TEXT_AND_TOOL, size));
      const chunks = parseSse(joined(events));
      expect(chunks.at(-1)?.data).toBe('[DONE]');
      const bodies = chunks.slice(0, -1).map((c) => c.data as J);
      expect(new Set(bodies.map((b) => b.id))).toEqual(new Set(['msg_01X']));
      expect(bodies[0]?.choices?.[0]?.delta).toEqual({ role: 'assistant', content: 'Okay, let me ' });
      const text = bodies.map((b) => b.choices?.[0]?.delta?.content ?? '').join('');
      expect(text).toBe('Okay, let me check.');
      const calls = bodies.flatMap((b) => (b.choices?.[0]?.delta?.tool_calls ?? []) as J[]);
      expect(calls[0]).toEqual({
        index: 0,
        id: 'toolu_01T',
        type: 'function',
        function: { name: 'get_weather', arguments: '' },
      });
      expect(calls.every((c) => (c.index as unknown) === 0)).toBe(true);
      const args = calls.map((c) => c.function?.arguments).join('');
      expect(JSON.parse(args)).toEqual({ city: 'San Francisco', unit: 'celsius' });
      expect(bodies.find((b) => b.choices?.[0]?.finish_reason)?.choices?.[0]?.finish_reason).toBe(
        'tool_calls',
      );
      const usageChunk = bodies.at(-1);
      expect(usageChunk?.choices).toEqual([]);
      expect(usageChunk?.usage).toEqual({
        prompt_tokens: 600,
        completion_tokens: 89,
        total_tokens: 689,
        prompt_tokens_details: { cached_tokens: 128 },
      });
      expect(mergedUsage(events)).toEqual({ inputTokens: 600, outputTokens: 89, cachedInputTokens: 128 });
      expect(events.map((e) => e.text ?? '').join('')).toBe(
        'Okay, let me check.{"city": "San Francisco", "unit": "celsius"}',
      );
      expect(events.at(-1)?.done).toBe(true);
    });
  }

  it('omits the usage chunk when the client did not ask, but still reports usage to the core', () => {
    const events = run(openaiToAnthropic.createStream(ctx(false)), pieces(USAGE_IN_DELTA, 5));
    const bodies = parseSse(joined(events))
      .filter((c) => c.data !== '[DONE]')
      .map((c) => c.data as J);
    expect(bodies.some((b) => b.usage)).toBe(false);
    expect(mergedUsage(events)).toEqual({ inputTokens: 50, outputTokens: 3, cachedInputTokens: 10 });
  });

  it('raises an `event: error` as a GatewayError carrying Anthropic status, and a stream without message_stop as incomplete', () => {
    const start = TEXT_AND_TOOL.slice(0, TEXT_AND_TOOL.indexOf('event: content_block_stop'));
    const failing =
      start + anthropicSse([{ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }]);
    const st = openaiToAnthropic.createStream(ctx(false));
    let err: unknown;
    try {
      run(st, [Buffer.from(failing)]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).status).toBe(529);
    expect((err as GatewayError).message).toContain(
      "provider 'my-anthropic' failed mid-stream: overloaded_error: Overloaded",
    );
    expect(() => run(openaiToAnthropic.createStream(ctx(false)), [Buffer.from(start)])).toThrow(
      /before message_stop/,
    );
  });

  it('ends a capped stream with finish_reason length, usage and [DONE]; a cut inside tool arguments stays a tool delta', () => {
    const st = openaiToAnthropic.createStream(ctx(true));
    const events = st.push(Buffer.from(TEXT_AND_TOOL));
    const cut = events.find((e) => e.text?.startsWith('{"city"')) as StreamEvent;
    const out = parseSse(
      st.textChunk('{"ci', cut) + st.finish('length', { inputTokens: 600, outputTokens: 12 }, cut),
    );
    const [args, fin, usage, done] = out.map((c) => c.data as J);
    expect(args?.choices?.[0]?.delta).toEqual({
      tool_calls: [{ index: 0, function: { arguments: '{"ci' } }],
    });
    expect(fin?.choices?.[0]?.finish_reason).toBe('length');
    expect(usage?.usage).toEqual({
      prompt_tokens: 600,
      completion_tokens: 12,
      total_tokens: 612,
      prompt_tokens_details: { cached_tokens: 128 },
    });
    expect(done).toBe('[DONE]');
  });
});

describe('Anthropic passthrough stream', () => {
  const ctx = () => ctxFor('anthropic', 'anthropic-messages', { stream: true, clientWantsStreamUsage: true });

  for (const size of [1, 5, 1000]) {
    it(`passes bytes through unchanged and reads input + output usage (pieces of ${size})`, () => {
      const events = run(anthropicToAnthropic.createStream(ctx()), pieces(TEXT_AND_TOOL, size));
      expect(joined(events)).toBe(TEXT_AND_TOOL);
      expect(mergedUsage(events)).toEqual({ inputTokens: 600, outputTokens: 89, cachedInputTokens: 128 });
      expect(events.filter((e) => e.done).length).toBe(1);
    });
  }

  it('takes cumulative counters from message_delta when message_start has none', () => {
    const events = run(anthropicToAnthropic.createStream(ctx()), [Buffer.from(USAGE_IN_DELTA)]);
    expect(mergedUsage(events)).toEqual({ inputTokens: 50, outputTokens: 3, cachedInputTokens: 10 });
  });

  it('closes exactly the cut block at a cap, even when later frames of the same read were never sent', () => {
    const st = anthropicToAnthropic.createStream(ctx());
    const events = st.push(Buffer.from(TEXT_AND_TOOL));
    const cutIndex = events.findIndex((e) => e.text === 'check.');
    const cut = events[cutIndex] as StreamEvent;
    const sent = joined(events.slice(0, cutIndex));
    const ending = st.textChunk('che', cut) + st.finish('length', { inputTokens: 600, outputTokens: 5 }, cut);
    const all = parseSse(sent + ending);
    assertAnthropicGrammar(all);
    expect(assemble(all)).toEqual({ text: 'Okay, let me che', tools: [] });
    const delta = all.at(-2)?.data as J;
    expect(delta.delta).toEqual({ stop_reason: 'max_tokens', stop_sequence: null });
    expect(delta.usage).toEqual({
      input_tokens: 472,
      output_tokens: 5,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 128,
    });
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
