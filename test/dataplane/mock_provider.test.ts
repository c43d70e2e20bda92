// The built-in mock provider answers like OpenAI: `message.refusal: null` on every message (clients
// and validators read it), and `n` answers when asked, whole or streamed, billed n times.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';

let dp: InProcessDataplane;
let client: OpenAI;

beforeAll(async () => {
  dp = await startDataplane({
    providers: [{ name: 'mock', type: 'mock', mock: { outputTokens: 6, chunkTokens: 2 } }],
    routes: [{ name: 'mock', match: { models: ['mock-small'] }, backends: [{ provider: 'mock' }] }],
  });
  client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await dp?.stop();
});

describe('mock provider', () => {
  it('sends refusal: null and honours n', async () => {
    const one = await client.chat.completions.create({
      model: 'mock-small',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(one.choices).toHaveLength(1);
    expect(one.choices[0]?.message.refusal).toBeNull();
    const three = await client.chat.completions.create({
      model: 'mock-small',
      n: 3,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(three.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    for (const c of three.choices) expect(c.message).toMatchObject({ role: 'assistant', refusal: null });
    expect(three.usage?.completion_tokens).toBe(3 * (one.usage?.completion_tokens ?? 0));
  });

  it('streams n answers by index', async () => {
    const stream = await client.chat.completions.create({
      model: 'mock-small',
      n: 2,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const text = ['', ''];
    const finished = new Set<number>();
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        text[c.index] += c.delta.content ?? '';
        if (c.finish_reason) finished.add(c.index);
      }
    }
    expect(finished).toEqual(new Set([0, 1]));
    expect(text[0]).toBe(text[1]);
    expect(text[0]?.length).toBeGreaterThan(0);
  });
});
