import { afterAll, describe, expect, it } from 'vitest';
import { countTokens } from './counter.ts';
import { ASYNC_MIN_CHARS, countPromptTokensAsync, TokenPool } from './pool.ts';

const pool = new TokenPool(2);
afterAll(() => pool.close());

function prompt(chars: number): string {
  const words = ['gateway', ' token', ' 数据', ' limit', ' 42', ' stream', '{', '}'];
  let s = '';
  for (let i = 0; s.length < chars; i++) s += words[(i * 5) % words.length];
  return s;
}

describe('token worker pool', () => {
  it('counts a large prompt on a worker exactly as the inline counter does', async () => {
    const text = prompt(ASYNC_MIN_CHARS * 2);
    const [a, b] = await Promise.all([pool.count(text, 'o200k_base'), pool.count(`${text}!`, 'cl100k_base')]);
    expect(pool.workers).toBeGreaterThan(0);
    expect(a).toBe(countTokens(text, 'o200k_base'));
    expect(b).toBe(countTokens(`${text}!`, 'cl100k_base'));
  });

  it('keeps small prompts and estimated families inline (no worker round trip)', async () => {
    const fresh = new TokenPool(1);
    expect(await fresh.count('hello world', 'o200k_base')).toBe(2);
    expect(await fresh.count(prompt(ASYNC_MIN_CHARS * 2), 'estimate')).toBeGreaterThan(0);
    expect(fresh.workers).toBe(0);
    await fresh.close();
  });

  it('adds the chat framing to the async count', async () => {
    const text = prompt(ASYNC_MIN_CHARS + 10);
    expect(await countPromptTokensAsync(text, 4, 'o200k_base')).toBe(countTokens(text, 'o200k_base') + 15);
  });

  it('recounts inline when a worker dies with jobs in flight', async () => {
    const p = new TokenPool(1);
    const text = prompt(ASYNC_MIN_CHARS * 4);
    const pending = p.count(text, 'o200k_base');
    await p.close();
    expect(await pending).toBe(countTokens(text, 'o200k_base'));
  });
});
