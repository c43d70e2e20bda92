// OpenAI's `n` on a Gemini backend is generationConfig.candidateCount, and the fake Gemini answers as
// many candidates as it is asked for (each named by its `index`; streamed one candidate per chunk,
// interleaved). The official `openai` SDK must get n choices, each with its own text, index and
// finish reason, whole and streamed, and usage that counts every candidate.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeGemini, startFakeGemini } from '../fakes/gemini.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';

const SECRET = process.env.SLUICE_TEST_KEY as string;
let fake: FakeGemini;
let dp: InProcessDataplane;
let client: OpenAI;

beforeAll(async () => {
  fake = await startFakeGemini({ apiKey: SECRET });
  dp = await startDataplane({
    providers: [
      { name: 'gem', type: 'gemini', baseUrl: fake.url, credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } } },
    ],
    routes: [{ name: 'gemini', match: { models: ['gemini-*'] }, backends: [{ provider: 'gem' }] }],
  });
  client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'client-key', maxRetries: 0 });
});

afterAll(async () => {
  await dp?.stop();
  await fake?.close();
});

const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'pick a name' }];
const sentConfig = () => fake.requests.at(-1)?.body?.generationConfig as Record<string, unknown> | undefined;

describe('n on a Gemini backend (candidateCount)', () => {
  it('n: 3 asks for three candidates and answers three choices, whole', async () => {
    const r = await client.chat.completions.create({ model: 'gemini-2.5-flash', messages, n: 3 });
    expect(sentConfig()?.candidateCount).toBe(3);
    expect(r.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    for (const c of r.choices) {
      expect(c.message.content).toBe(`[${c.index}] Hello from Gemini: pick a name`);
      expect(c.finish_reason).toBe('stop');
    }
    // Gemini's candidatesTokenCount covers every candidate (4 words each here)
    expect(r.usage?.completion_tokens).toBe(12);
  });

  it('n: 2 streamed: each choice gets its own deltas and one finish, whatever the chunk order', async () => {
    const stream = await client.chat.completions.create({
      model: 'gemini-2.5-flash',
      messages,
      n: 2,
      stream: true,
      stream_options: { include_usage: true },
    });
    const text = new Map<number, string>();
    const finishes = new Map<number, string[]>();
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        text.set(c.index, (text.get(c.index) ?? '') + (c.delta.content ?? ''));
        if (c.finish_reason) finishes.set(c.index, [...(finishes.get(c.index) ?? []), c.finish_reason]);
      }
    }
    expect(sentConfig()?.candidateCount).toBe(2);
    expect(Object.fromEntries(text)).toEqual({
      0: '[0] Hello from Gemini: pick a name',
      1: '[1] Hello from Gemini: pick a name',
    });
    expect(Object.fromEntries(finishes)).toEqual({ 0: ['stop'], 1: ['stop'] });
    expect(usage?.completion_tokens).toBe(8);
  });

  it('the stream helper assembles both choices', async () => {
    const stream = client.chat.completions.stream({ model: 'gemini-2.5-flash', messages, n: 2 });
    const done = await stream.finalChatCompletion();
    expect(done.choices.map((c) => [c.index, c.message.content])).toEqual([
      [0, '[0] Hello from Gemini: pick a name'],
      [1, '[1] Hello from Gemini: pick a name'],
    ]);
  });

  it('n: 1 (or none) sends no candidateCount and answers one choice', async () => {
    for (const n of [1, undefined]) {
      const r = await client.chat.completions.create({ model: 'gemini-2.5-flash', messages, n });
      expect(sentConfig()?.candidateCount).toBeUndefined();
      expect(r.choices).toHaveLength(1);
      expect(r.choices[0]?.message.content).toBe('Hello from Gemini: pick a name');
    }
  });
});
