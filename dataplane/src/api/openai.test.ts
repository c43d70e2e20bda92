// Found by test/reliability/translator_fuzz.test.ts: an embeddings `dimensions` of 0 or below (or not an
// integer) went to Gemini, which refused it in its own words; OpenAI answers the client's 400.
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors.ts';
import { openaiEmbeddings } from './openai.ts';

describe('embeddings dimensions', () => {
  it.each([0, -3, 1.5, '8', { toString: 0 }])('refuses %j', (dimensions) => {
    let caught: unknown;
    try {
      openaiEmbeddings.parse({ model: 'm', input: 'hi', dimensions });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GatewayError);
    expect((caught as GatewayError).param).toBe('dimensions');
  });

  it('takes a positive integer', () => {
    expect(() => openaiEmbeddings.parse({ model: 'm', input: 'hi', dimensions: 256 })).not.toThrow();
  });
});
