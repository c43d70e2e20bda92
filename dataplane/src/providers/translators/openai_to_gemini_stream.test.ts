// Gemini streams -> OpenAI chunks against recorded-style fixtures fed in pieces of every size: multiple
// parts, thought summaries, parallel function calls, usage only in the last event, truncation, mid-stream
// errors, and deltas trimmed at a cap keeping their kind.
import { describe, expect, it } from 'vitest';
import { resolvedProvider, sseChunks, translateContext } from '../../../../test/helpers/provider_context.ts';
import { GatewayError } from '../../errors.ts';
import type { StreamEvent } from '../types.ts';
import { openaiChatToGemini } from './openai_to_gemini.ts';

const provider = resolvedProvider('gemini', { credentials: { apiKey: 'g-key' }, name: 'gem' });
const ctx = (o: Parameters<typeof translateContext>[1] = {}) =>
  translateContext(provider, { model: 'gemini-2.5-flash', ...o });

/** Feed an SSE body through the stream translator in pieces of `size` bytes. */
function runStream(sse: string, size: number, wantsUsage = true): { events: StreamEvent[]; out: string } {
  const st = openaiChatToGemini.createStream(ctx({ stream: true, wantsUsage }));
  const bytes = Buffer.from(sse);
  const events: StreamEvent[] = [];
  for (let i = 0; i < bytes.length; i += size) events.push(...st.push(bytes.subarray(i, i + size)));
  events.push(...st.end());
  return { events, out: events.map((e) => e.data.toString()).join('') };
}

const frame = (o: unknown) => `data: ${JSON.stringify(o)}\r\n\r\n`;
const STREAM_FIXTURE =
  frame({
    candidates: [{ index: 0, content: { role: 'model', parts: [{ text: 'Plan: ', thought: true }] } }],
    responseId: 's1',
  }) +
  frame({
    candidates: [
      { index: 0, content: { role: 'model', parts: [{ text: 'Calling ' }, { text: 'tools ✓' }] } },
    ],
  }) +
  frame({
    candidates: [
      {
        index: 0,
        content: { role: 'model', parts: [{ functionCall: { name: 'weather', args: { city: 'Paris' } } }] },
      },
    ],
  }) +
  frame({
    candidates: [
      {
        index: 0,
        content: { role: 'model', parts: [{ functionCall: { name: 'weather', args: { city: 'Rome' } } }] },
        finishReason: 'STOP',
      },
    ],
    usageMetadata: { promptTokenCount: 20, candidatesTokenCount: 9, totalTokenCount: 29 },
  });

describe('Gemini stream -> OpenAI chunks', () => {
  it('translates multiple parts and parallel calls, with usage only at the end, at any split', () => {
    for (const size of [1, 7, 64, 10_000]) {
      const { events, out } = runStream(STREAM_FIXTURE, size);
      const { chunks, done } = sseChunks(out);
      expect(done).toBe(true);
      const deltas = chunks.flatMap(
        (c) => (c.choices as Array<{ delta: Record<string, unknown>; finish_reason: string | null }>) ?? [],
      );
      expect(deltas[0]?.delta.role).toBe('assistant');
      expect(deltas.map((d) => d.delta.content ?? '').join('')).toBe('Calling tools ✓');
      expect(deltas.map((d) => d.delta.reasoning_content ?? '').join('')).toBe('Plan: ');
      const calls = deltas.flatMap(
        (d) =>
          (d.delta.tool_calls as Array<{ index: number; function: { name: string; arguments: string } }>) ??
          [],
      );
      expect(calls.map((c) => [c.index, c.function.name, c.function.arguments])).toEqual([
        [0, 'weather', '{"city":"Paris"}'],
        [1, 'weather', '{"city":"Rome"}'],
      ]);
      expect(deltas.at(-1)?.finish_reason).toBe('tool_calls');
      expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 20, completion_tokens: 9, total_tokens: 29 });
      expect(chunks.at(-1)?.id).toBe('chatcmpl-s1');
      expect(events.filter((e) => e.usage).at(-1)?.usage).toEqual({ inputTokens: 20, outputTokens: 9 });
      expect(events.at(-1)?.done).toBe(true);
    }
  });

  it('omits the usage chunk when the client did not ask, but still reports usage to the core', () => {
    const { events, out } = runStream(STREAM_FIXTURE, 50, false);
    expect(sseChunks(out).chunks.some((c) => c.usage !== undefined)).toBe(false);
    expect(events.some((e) => e.usage?.inputTokens === 20)).toBe(true);
  });

  it('fails a stream that ends without a finish reason or carries an error', () => {
    const truncated = frame({ candidates: [{ index: 0, content: { parts: [{ text: 'Hel' }] } }] });
    expect(() => runStream(truncated, 5)).toThrow(/ended the stream before the answer was complete/);
    const failed =
      truncated +
      frame({ error: { code: 500, message: 'An internal error has occurred.', status: 'INTERNAL' } });
    expect(() => runStream(failed, 5)).toThrow(/failed mid-stream: An internal error has occurred/);
    expect(() => runStream('data: {not json\r\n\r\n', 3)).toThrow(GatewayError);
  });

  it('keeps the kind of a delta trimmed at a cap', () => {
    const st = openaiChatToGemini.createStream(ctx({ stream: true }));
    const events = st.push(Buffer.from(STREAM_FIXTURE));
    const reasoning = events.find((e) => e.text === 'Plan: ') as StreamEvent;
    expect(st.textChunk('Pl', reasoning)).toContain('"reasoning_content":"Pl"');
    const call = events.find((e) => e.text === '{"city":"Rome"}') as StreamEvent;
    const trimmed = sseChunks(st.textChunk('{"ci', call)).chunks[0] as {
      choices: Array<{ delta: { tool_calls: unknown[] } }>;
    };
    expect(trimmed.choices[0]?.delta.tool_calls).toEqual([
      {
        index: 1,
        id: expect.any(String),
        type: 'function',
        function: { name: 'weather', arguments: '{"ci' },
      },
    ]);
  });
});
