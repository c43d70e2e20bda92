// The openai SDK's Responses stream helper (responses.stream(), finalResponse()) when a translated
// backend reasons: Gemini's thought parts become a `reasoning` item. The SDK's accumulator adds a
// reasoning item's text part on response.content_part.added and threw "missing content at index 0"
// on the first reasoning delta, because Sluice never sent that event. Real in-process dataplane, the
// validating Gemini fake.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeGemini, startFakeGemini } from '../fakes/gemini.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';

let gemini: FakeGemini;
let dp: InProcessDataplane;

beforeAll(async () => {
  gemini = await startFakeGemini({ apiKey: UPSTREAM_KEY });
  dp = await startDataplane({
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
  });
});

afterAll(async () => {
  await dp?.stop();
  await gemini?.close();
});

const part = (p: Record<string, unknown>, last = false) => ({
  candidates: [
    { index: 0, content: { role: 'model', parts: [p] }, ...(last ? { finishReason: 'STOP' } : {}) },
  ],
  ...(last
    ? {
        usageMetadata: {
          promptTokenCount: 9,
          candidatesTokenCount: 2,
          thoughtsTokenCount: 6,
          totalTokenCount: 17,
        },
      }
    : {}),
});

describe('openai SDK responses.stream() on a reasoning Gemini answer', () => {
  it('accumulates the reasoning item and the message', async () => {
    gemini.script(() => ({
      chunks: [
        part({ text: 'Weighing ', thought: true }),
        part({ text: 'options.', thought: true }),
        part({ text: 'Pick B.' }, true),
      ],
    }));
    const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'client-key', maxRetries: 0 });
    const stream = client.responses.stream({ model: 'gemini-2.5-flash', input: 'A or B?' });
    const reasoningDeltas: string[] = [];
    stream.on('response.reasoning_text.delta', (e) => reasoningDeltas.push(e.delta));
    const final = await stream.finalResponse();
    expect(reasoningDeltas.join('')).toBe('Weighing options.');
    const reasoning = final.output.find((i) => i.type === 'reasoning');
    expect(reasoning?.type === 'reasoning' && reasoning.content).toEqual([
      { type: 'reasoning_text', text: 'Weighing options.' },
    ]);
    expect(final.output_text).toBe('Pick B.');
    expect(final.usage?.output_tokens_details?.reasoning_tokens).toBe(6);
  });
});
