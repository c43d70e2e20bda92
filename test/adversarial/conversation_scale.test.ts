// A conversation with many tool calls must translate in time proportional to its size: the body limit
// bounds the size (10 MiB by default), so linear work stays bounded, but a step per message that
// scans or copies everything before it does not. Found in review: an OpenAI chat request with 32,000
// answered tool calls (a 4 MB body) held the event loop for ~1 s while being turned into Anthropic
// Messages (a search for the end of the turn's tool results per result), and a Responses input with
// 10,000 consecutive function calls for ~70 ms (the assistant's call list copied per call). Ratios, not
// wall-clock bounds: 10x the conversation is ~10x the time when linear, ~100x when quadratic.
import { describe, expect, it } from 'vitest';
import { toAnthropicMessages } from '../../dataplane/src/wire/anthropic/from_openai.ts';
import { toBedrockMessages } from '../../dataplane/src/wire/bedrock/from_openai.ts';
import { toGeminiRequest } from '../../dataplane/src/wire/gemini/from_openai.ts';
import { chatMessages } from '../../dataplane/src/wire/responses/to_openai.ts';
import { resolvedProvider, translateContext } from '../helpers/provider_context.ts';

/** An answered batch of k parallel tool calls, as an OpenAI chat conversation. */
function chat(k: number): Array<Record<string, unknown>> {
  const calls = Array.from({ length: k }, (_, i) => ({
    id: `call_${i}`,
    type: 'function',
    function: { name: 'lookup', arguments: '{}' },
  }));
  const messages: Array<Record<string, unknown>> = [
    { role: 'user', content: 'look everything up' },
    { role: 'assistant', content: null, tool_calls: calls },
  ];
  for (let i = 0; i < k; i++) messages.push({ role: 'tool', tool_call_id: `call_${i}`, content: 'ok' });
  return messages;
}

/** The same as Responses input items: k consecutive function calls after an assistant message. */
function responsesInput(k: number): Array<Record<string, unknown>> {
  const items: Array<Record<string, unknown>> = [
    { role: 'user', content: 'go' },
    { role: 'assistant', content: 'on it' },
  ];
  for (let i = 0; i < k; i++)
    items.push({ type: 'function_call', call_id: `c${i}`, name: 'lookup', arguments: '{}' });
  for (let i = 0; i < k; i++) items.push({ type: 'function_call_output', call_id: `c${i}`, output: 'ok' });
  return items;
}

/**
 * The time of 10x the input over the time of 1x, each the fastest of 5 runs after a warm-up: a run
 * can only be slowed by what else the machine does (a neighbour on the core, a GC), never sped up, so
 * the fastest is the translation's own time. A median of single-run ratios read 137 for linear code in
 * a full suite on two busy cores.
 */
function growth(run: (k: number) => void, small: number): number {
  const fastest = (k: number) => {
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      run(k);
      best = Math.min(best, performance.now() - t0);
    }
    return best;
  };
  fastest(small);
  return fastest(small * 10) / Math.max(fastest(small), 0.05);
}

const fail = (): never => {
  throw new Error('unexpected refusal');
};

describe('conversations of many tool calls translate in linear time', () => {
  it('OpenAI chat -> Anthropic Messages', () => {
    const convert = (k: number) => {
      const { messages } = toAnthropicMessages(chat(k), { model: 'm', unsupported: fail });
      // one assistant turn of k tool_use blocks, one user turn of k tool_result blocks
      expect(messages.map((m) => m.content.length)).toEqual([1, k, k]);
    };
    expect(growth(convert, 1_500)).toBeLessThan(40);
  });

  it('OpenAI chat -> Bedrock and Gemini', () => {
    const bedrock = translateContext(
      resolvedProvider('bedrock', {
        region: 'us-east-1',
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      }),
    );
    const gemini = translateContext(resolvedProvider('gemini', { credentials: { apiKey: 'g' } }), {
      model: 'gemini-2.5-flash',
    });
    expect(growth((k) => toBedrockMessages(chat(k) as never, bedrock), 1_500)).toBeLessThan(40);
    expect(growth((k) => toGeminiRequest({ model: 'x', messages: chat(k) }, gemini), 1_500)).toBeLessThan(40);
  });

  it('Responses input -> chat messages', () => {
    const convert = (k: number) => {
      const messages = chatMessages(responsesInput(k), undefined);
      expect((messages[1]?.tool_calls ?? []).length).toBe(k);
    };
    expect(growth(convert, 1_500)).toBeLessThan(40);
  });
});
