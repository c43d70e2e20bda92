// The openai SDK's stream helpers when an output cap cuts the very first event of a translated stream
// (a grant smaller than the backend's first delta). That event carried what a stream must start with:
// the Responses head (response.created, in_progress), the chat choice's `role`. The cut dropped it and
// the ending did not write it again, so the SDK threw: "expected 'response.created' event" from
// responses.stream(), "missing role for choice 0" from chat.completions.stream(). Real in-process
// dataplane with a tenant whose policy caps output at 1 token, the validating Gemini fake.
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

const ANSWER = 'Hello there, my friend';

/** Gemini answers more than the clamped limit in its first chunk (the fake does not enforce it). */
function answerInOneChunk(): void {
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
}

/** A start of the answer, never all of it: the cap's trim of the first delta (tokens are estimated). */
function expectTrimmed(text: string | null | undefined): void {
  expect(text?.length).toBeGreaterThan(0);
  expect(ANSWER.startsWith(text ?? '')).toBe(true);
  expect(text).not.toBe(ANSWER);
}

describe('an output cap that cuts the first event of a translated stream', () => {
  it('Responses: the SDK gets the response head, then response.incomplete', async () => {
    answerInOneChunk();
    const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'sk-tiny', maxRetries: 0 });
    const stream = client.responses.stream({ model: 'gemini-2.5-flash', input: 'Say hello' });
    const types: string[] = [];
    stream.on('event', (e) => types.push(e.type));
    const final = await stream.finalResponse();
    expect(types.slice(0, 2)).toEqual(['response.created', 'response.in_progress']);
    expect(final.status).toBe('incomplete');
    expect(final.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expectTrimmed(final.output_text);
    expect(gemini.requests.at(-1)?.body?.generationConfig).toMatchObject({ maxOutputTokens: 1 });
  });

  it('chat: the choice still has its role, and finishes at the cap', async () => {
    answerInOneChunk();
    const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'sk-tiny', maxRetries: 0 });
    const stream = client.chat.completions.stream({
      model: 'gemini-2.5-flash',
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]?.message.role).toBe('assistant');
    expect(final.choices[0]?.finish_reason).toBe('length');
    expectTrimmed(final.choices[0]?.message.content);
  });
});
