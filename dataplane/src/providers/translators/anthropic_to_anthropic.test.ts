// Anthropic client -> Anthropic backend (passthrough): the body goes up with only the model renamed,
// stream bytes come back unchanged while usage is read from them, and a cut at a token cap closes
// exactly the blocks the client saw (no network).
import { describe, expect, it } from 'vitest';
import {
  assemble,
  assertAnthropicGrammar,
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
import type { StreamEvent } from '../types.ts';
import { anthropicToAnthropic } from './anthropic_to_anthropic.ts';

describe('Anthropic passthrough', () => {
  it('forwards the body with only the model renamed, with x-api-key and the configured version', async () => {
    const ctx = ctxFor('anthropic', 'anthropic-messages');
    ctx.provider.config.apiVersion = '2023-01-01';
    const body = {
      model: 'client-model',
      max_tokens: 5,
      messages: [{ role: 'user', content: 'x' }],
      top_k: 3,
    };
    const req = await anthropicToAnthropic.buildRequest(structuredClone(body), ctx);
    expect(JSON.parse(String(req.body))).toEqual({ ...body, model: 'claude-up' });
    expect(req.headers['anthropic-version']).toBe('2023-01-01');
    expect(req.headers['x-api-key']).toBe('k-123');
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
