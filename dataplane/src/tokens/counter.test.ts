import { describe, expect, it } from 'vitest';
import {
  countPromptTokens,
  countTokens,
  encodingForModel,
  estimateTokens,
  rememberCount,
  truncateToTokens,
} from './counter.ts';

describe('encoding per model family', () => {
  it.each([
    ['gpt-4o-mini', 'o200k_base'],
    ['gpt-4.1', 'o200k_base'],
    ['gpt-5-nano', 'o200k_base'],
    ['o3-mini', 'o200k_base'],
    ['openai/gpt-4o', 'o200k_base'],
    ['ft:gpt-4o-mini:acme::abc', 'o200k_base'],
    ['gpt-4-turbo', 'cl100k_base'],
    ['gpt-3.5-turbo', 'cl100k_base'],
    ['text-embedding-3-small', 'cl100k_base'],
    ['claude-sonnet-4-5', 'estimate'],
    ['gemini-2.5-pro', 'estimate'],
    ['qwen-max', 'estimate'],
    ['deepseek-chat', 'estimate'],
    ['ollama-llama3', 'estimate'],
  ] as const)('%s -> %s', (model, enc) => {
    expect(encodingForModel(model)).toBe(enc);
  });

  it('lets the model config override the family default', () => {
    expect(encodingForModel('my-finetune', 'o200k_base')).toBe('o200k_base');
  });
});

describe('counting', () => {
  it('counts known strings exactly with the real encodings', () => {
    // Reference values from OpenAI's tiktoken for these encodings.
    expect(countTokens('hello world', 'o200k_base')).toBe(2);
    expect(countTokens('hello world', 'cl100k_base')).toBe(2);
    expect(countTokens('tiktoken is great!', 'cl100k_base')).toBe(6);
  });

  it('adds 3 tokens per message and 3 for the reply, per OpenAI’s recipe', () => {
    expect(countPromptTokens('hello world', 2, 'o200k_base')).toBe(2 + 6 + 3);
  });

  it('treats special-token lookalikes in user text as text instead of throwing', () => {
    expect(countTokens('say <|endoftext|> now', 'o200k_base')).toBeGreaterThan(3);
    expect(countTokens('<|im_start|>system', 'cl100k_base')).toBeGreaterThan(2);
  });

  it('estimates other families at one token per CJK character and per 4 other characters', () => {
    expect(estimateTokens('abcdefgh')).toBe(2);
    expect(estimateTokens('数据网关')).toBe(4);
    expect(estimateTokens('数据 gateway')).toBe(2 + 2);
  });

  it('reuses a remembered count of a large prompt instead of recounting', () => {
    const big = 'x'.repeat(20_000);
    rememberCount(big, 'o200k_base', 12_345);
    expect(countTokens(big, 'o200k_base')).toBe(12_345);
    // Short texts are never memoised: always counted.
    rememberCount('tiny', 'o200k_base', 99);
    expect(countTokens('tiny', 'o200k_base')).toBe(1);
  });
});

describe('truncation', () => {
  it('keeps the longest prefix within the token cap', () => {
    const text = 'one two three four five six';
    const kept = truncateToTokens(text, 3, 'o200k_base');
    expect(kept).toBe('one two three');
    expect(countTokens(kept, 'o200k_base')).toBe(3);
    expect(truncateToTokens(text, 100, 'o200k_base')).toBe(text);
    expect(truncateToTokens(text, 0, 'o200k_base')).toBe('');
  });

  it('never cuts inside a multi-byte character', () => {
    // Each 🎉 is two o200k tokens: a cap of 3 keeps one whole emoji, not one and a half.
    expect(truncateToTokens('🎉🎉', 3, 'o200k_base')).toBe('🎉');
    expect(truncateToTokens('🎉🎉', 1, 'o200k_base')).toBe('');
  });

  it('truncates estimated text consistently with the estimator', () => {
    const kept = truncateToTokens('abcdefghijkl', 2, 'estimate');
    expect(kept).toBe('abcdefgh');
    expect(estimateTokens(kept)).toBe(2);
    expect(truncateToTokens('数据网关', 2, 'estimate')).toBe('数据');
  });
});
