// OpenAI chat client -> Anthropic backend, streams: recorded-style Anthropic events fed in pieces of
// every size so frames split anywhere, translated to OpenAI chunks (tool calls by index/id, usage from
// message_start + message_delta), and the token-cap ending an OpenAI client needs.
import { describe, expect, it } from 'vitest';
import {
  anthropicSse,
  ctxFor,
  type J,
  joined,
  mergedUsage,
  parseSse,
  pieces,
  run,
  TEXT_AND_TOOL,
  USAGE_IN_DELTA,
} from '../../../../test/providers/anthropic_helpers.ts';
import { GatewayError } from '../../errors.ts';
import type { StreamEvent } from '../types.ts';
import { openaiToAnthropic } from './openai_to_anthropic.ts';

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
