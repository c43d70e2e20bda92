// OpenAI -> Gemini translation of what Gemini refuses: hostile values in a chat request, Gemini's
// limits (n, embedding inputs) and function names its rule refuses, each a 400 naming the field
// before anything is sent. The mappings themselves are in openai_to_gemini.test.ts.
import { describe, expect, it } from 'vitest';
import { resolvedProvider, translateContext } from '../../../../test/helpers/provider_context.ts';
import type { GatewayError } from '../../errors.ts';
import { toGeminiRequest } from '../../wire/gemini/from_openai.ts';
import { openaiEmbeddingsToGemini } from './openai_to_gemini.ts';

const provider = resolvedProvider('gemini', { credentials: { apiKey: 'g-key' }, name: 'gem' });
const ctx = (o: Parameters<typeof translateContext>[1] = {}) =>
  translateContext(provider, { model: 'gemini-2.5-flash', ...o });
const PNG = 'iVBORw0KGgo=';

describe('hostile values in an OpenAI chat request for Gemini', () => {
  const refusal = (extra: Record<string, unknown>, content: unknown = 'hi') => {
    try {
      toGeminiRequest({ model: 'x', messages: [{ role: 'user', content }], ...extra }, ctx());
    } catch (err) {
      expect(err, String((err as Error).message)).toHaveProperty('code');
      return err as GatewayError;
    }
    throw new Error('expected a rejection');
  };
  const hostile = { toString: 0, valueOf: 0 };

  it('refuses a reasoning_effort that is not one of its names, whatever it is', () => {
    for (const effort of [hostile, '__proto__', 'constructor', 'toString', 'hasOwnProperty', 7]) {
      const err = refusal({ reasoning_effort: effort });
      expect(err.status).toBe(400);
      expect(err.param).toBe('reasoning_effort');
    }
  });

  // the same fuzz: a data URL whose payload is not base64 went to Gemini ("Base64 decoding failed")
  it('refuses a data URL whose payload is not base64, and takes one that is', () => {
    const image = (url: string) => [{ type: 'image_url', image_url: { url } }];
    for (const payload of ['𓃆', 'not base64!', 'QUJD\u0000', 'A'])
      expect(refusal({}, image(`data:image/png;base64,${payload}`)).param).toBe(
        'messages[0].content[0].image_url.url',
      );
    expect(() =>
      toGeminiRequest(
        { model: 'x', messages: [{ role: 'user', content: image(`data:image/png;base64,${PNG}`) }] },
        ctx(),
      ),
    ).not.toThrow();
  });

  it('names a content part or tool type it cannot take without converting it', () => {
    expect(refusal({}, [{ type: hostile }]).param).toBe('messages[0].content[0].type');
    expect(refusal({ tools: [{ type: hostile }] }).param).toBe('tools[0].type');
  });
});

// Found by test/reliability/translator_fuzz.test.ts: limits OpenAI's API allows past Gemini's went to
// Gemini, which refused them in its own words (candidate_count must be in [1, 8]; at most 100 requests
// in one batch); now Sluice's 400 naming the provider.
describe("requests past Gemini's limits", () => {
  const gatewayError = async (p: () => unknown) => {
    try {
      await p();
    } catch (err) {
      return err as GatewayError;
    }
    throw new Error('expected a rejection');
  };

  it('refuses n above 8 and takes 8', async () => {
    const body = (n: number) => ({ model: 'x', messages: [{ role: 'user', content: 'hi' }], n });
    expect(toGeminiRequest(body(8), ctx()).generationConfig).toMatchObject({ candidateCount: 8 });
    const err = await gatewayError(() => toGeminiRequest(body(9), ctx()));
    expect(err.code).toBe('SLUICE_ERR_UNSUPPORTED_FEATURE');
    expect(err.param).toBe('n');
  });

  it('refuses more than 100 embedding inputs in one request', async () => {
    const ectx = ctx({ clientApi: 'openai-embeddings', model: 'text-embedding-004' });
    const input = Array.from({ length: 101 }, (_, i) => `t${i}`);
    const err = await gatewayError(() => openaiEmbeddingsToGemini.buildRequest({ model: 'e', input }, ectx));
    expect(err.code).toBe('SLUICE_ERR_UNSUPPORTED_FEATURE');
    expect(err.param).toBe('input');
    await openaiEmbeddingsToGemini.buildRequest({ model: 'e', input: input.slice(1) }, ectx);
  });
});

// Found by the same fuzz: Gemini's function names must start with a letter or underscore (OpenAI's
// and Anthropic's may start with a digit or '-'); such a name went to Gemini, which refused it.
describe("function names Gemini's rule refuses", () => {
  it('answers 400 naming the tool, and takes a name Gemini allows', async () => {
    const body = (name: string) => ({
      model: 'x',
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ type: 'function', function: { name, parameters: { type: 'object' } } }],
    });
    for (const name of ['-Infinity', '9lives', 'x'.repeat(65)]) {
      let caught: GatewayError | undefined;
      try {
        toGeminiRequest(body(name), ctx());
      } catch (err) {
        caught = err as GatewayError;
      }
      expect(caught?.status, name).toBe(400);
      expect(caught?.param).toBe('tools[0].function.name');
    }
    expect(() => toGeminiRequest(body('_get.weather-v2'), ctx())).not.toThrow();
  });
});
