// Every converter from a provider's usage object goes through checkedUsage: an impossible count makes
// the usage "not reported" (Sluice then counts), a plausible one passes unchanged.
import { describe, expect, it } from 'vitest';
import { fromAnthropicUsage } from './anthropic/format.ts';
import { converseUsage } from './bedrock/to_openai.ts';
import { geminiUsage } from './gemini/to_openai.ts';
import { fromOpenAIUsage } from './openai/usage.ts';
import { fromResponsesUsage } from './responses/format.ts';
import { checkedUsage } from './usage_check.ts';

// wire objects as an upstream could send them: the converters' parameter types say what a
// well-behaved one sends, so these are cast
const wire = <T>(o: Record<string, unknown>) => o as T;

describe('checkedUsage', () => {
  it('passes plausible counts unchanged', () => {
    const u = { inputTokens: 10, outputTokens: 0, cachedInputTokens: 4, reasoningTokens: 2 };
    expect(checkedUsage(u)).toBe(u);
    expect(checkedUsage(undefined)).toBeUndefined();
  });

  it.each([
    ['negative', -1],
    ['fractional', 1.5],
    ['NaN', Number.NaN],
    ['beyond a safe integer', 1e300],
    ['a string', '12'],
  ])('treats a %s count as not reported', (_, bad) => {
    expect(checkedUsage({ inputTokens: bad as number, outputTokens: 1 })).toBeUndefined();
    expect(
      checkedUsage({ inputTokens: 1, outputTokens: 1, cachedInputTokens: bad as number }),
    ).toBeUndefined();
  });

  it('guards every provider converter', () => {
    expect(fromOpenAIUsage(wire({ prompt_tokens: -1_000_000, completion_tokens: 5 }))).toBeUndefined();
    expect(fromOpenAIUsage({ prompt_tokens: 7, completion_tokens: 5 })).toEqual({
      inputTokens: 7,
      outputTokens: 5,
    });
    expect(fromResponsesUsage({ input_tokens: 3, output_tokens: -2 })).toBeUndefined();
    expect(fromAnthropicUsage(wire({ input_tokens: '10', output_tokens: 3 }))).toBeUndefined();
    expect(
      converseUsage(wire({ inputTokens: 2, outputTokens: 1, cacheReadInputTokens: -9 })),
    ).toBeUndefined();
    expect(geminiUsage(wire({ promptTokenCount: 4, candidatesTokenCount: 0.5 }))).toBeUndefined();
  });

  it('an impossible count is not hidden by a sum with another (input = uncached + cache reads + writes)', () => {
    expect(
      fromAnthropicUsage(wire({ input_tokens: -100, cache_read_input_tokens: 150, output_tokens: 1 })),
    ).toBeUndefined();
    expect(
      converseUsage(wire({ inputTokens: -5, cacheWriteInputTokens: 10, outputTokens: 1 })),
    ).toBeUndefined();
    expect(geminiUsage(wire({ promptTokenCount: 10, toolUsePromptTokenCount: -3 }))).toBeUndefined();
    expect(
      geminiUsage(wire({ promptTokenCount: 10, toolUsePromptTokenCount: 0.5, candidatesTokenCount: 0.5 })),
    ).toBeUndefined();
    // null is how Anthropic reports a cache count it has none of: still 0
    expect(
      fromAnthropicUsage(wire({ input_tokens: 3, cache_creation_input_tokens: null, output_tokens: 1 })),
    ).toEqual({ inputTokens: 3, outputTokens: 1 });
  });

  it('a count no model can produce (past a billion tokens) is not charged', () => {
    expect(checkedUsage({ inputTokens: 2 ** 53 - 1, outputTokens: 1 })).toBeUndefined();
    expect(fromOpenAIUsage({ prompt_tokens: 5, completion_tokens: 4e15 })).toBeUndefined();
    expect(checkedUsage({ inputTokens: 2_000_000, outputTokens: 100_000 })).toEqual({
      inputTokens: 2_000_000,
      outputTokens: 100_000,
    });
  });
});
