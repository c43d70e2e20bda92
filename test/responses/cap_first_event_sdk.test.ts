// The openai SDK's Responses stream helper when an output cap cuts the very first event of a
// translated stream (a grant smaller than the backend's first delta): Sluice had written the response
// head into that event, the cut dropped it, and the ending began at response.output_item.added, so the
// SDK threw ("expected 'response.created' event"). Real in-process dataplane with a tenant whose policy
// caps output at 1 token, the validating Gemini fake.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeGemini, startFakeGemini } from '../fakes/gemini.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';
import { sha256 } from '../policy/fixtures.ts';

let gemini: FakeGemini;
let dp: InProcessDataplane;

beforeAll(async () => {
  gemini = await startFakeGemini({ apiKey: UPSTREAM_KEY });
  dp = await startDataplane({
    store: { type: 'memory' },
    providers: [
      {
        name: 'gem',
        type: 'gemini',
        baseUrl: gemini.url,
        credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
      },
    ],
    routes: [
      { name: 'g', match: { models: ['gemini-*'] }, backends: [{ provider: 'gem' }], retry: { attempts: 0 } },
    ],
    namespaces: [
      { name: 'tiny', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-tiny') }] }, policies: ['one'] },
    ],
    policies: [{ name: 'one', maxOutputTokens: { limit: 1 } }],
  });
});

afterAll(async () => {
  await dp?.stop();
  await gemini?.close();
});

describe('an output cap that cuts the first event of a translated Responses stream', () => {
  it('the SDK gets the response head, then response.incomplete', async () => {
    // Gemini answers more than the clamped limit in its first chunk (the fake does not enforce it)
    gemini.script(() => ({
      chunks: [
        {
          candidates: [
            {
              index: 0,
              content: { role: 'model', parts: [{ text: 'Hello there, my friend' }] },
              finishReason: 'STOP',
            },
          ],
          usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 5, totalTokenCount: 9 },
        },
      ],
    }));
    const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'sk-tiny', maxRetries: 0 });
    const stream = client.responses.stream({ model: 'gemini-2.5-flash', input: 'Say hello' });
    const types: string[] = [];
    stream.on('event', (e) => types.push(e.type));
    const final = await stream.finalResponse();
    expect(types.slice(0, 2)).toEqual(['response.created', 'response.in_progress']);
    expect(final.status).toBe('incomplete');
    expect(final.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    // the cap's trim of the first delta (Gemini's tokens are estimated): a start of it, never all of it
    expect(final.output_text.length).toBeGreaterThan(0);
    expect('Hello there, my friend'.startsWith(final.output_text)).toBe(true);
    expect(final.output_text).not.toBe('Hello there, my friend');
    expect(gemini.requests.at(-1)?.body?.generationConfig).toMatchObject({ maxOutputTokens: 1 });
  });
});
