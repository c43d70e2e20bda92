// Every balancing strategy's distribution, measured through a real dataplane over two fake upstreams.
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { type InProcessDataplane, openaiProvider, startDataplane } from '../helpers/dataplane.ts';

let a: FakeOpenAI;
let b: FakeOpenAI;
let dp: InProcessDataplane | undefined;

beforeAll(async () => {
  a = await startFakeOpenAI({ name: 'a' });
  b = await startFakeOpenAI({ name: 'b' });
});
afterAll(async () => {
  await a.close();
  await b.close();
});
afterEach(async () => {
  await dp?.stop();
  dp = undefined;
  a.setFault(() => ({}));
  b.setFault(() => ({}));
  a.requests.length = 0;
  b.requests.length = 0;
});

const providers = (extraA: Record<string, unknown> = {}, extraB: Record<string, unknown> = {}) => [
  openaiProvider('a', a.url, extraA),
  openaiProvider('b', b.url, extraB),
];

async function gateway(
  route: Record<string, unknown>,
  extraA?: Record<string, unknown>,
  extraB?: Record<string, unknown>,
) {
  dp = await startDataplane({ providers: providers(extraA, extraB), routes: [{ name: 'r', ...route }] });
  return new OpenAI({ baseURL: dp.baseURL, apiKey: 'x', maxRetries: 0 });
}

async function ask(client: OpenAI, content = 'hi', model = 'gpt-4o-mini'): Promise<string> {
  const res = await client.chat.completions.create({ model, messages: [{ role: 'user', content }] });
  return (res.choices[0]?.message.content ?? '').slice(1, 2);
}

describe('balancing strategies', () => {
  it('weighted-random follows the weights (3:1 over 400 requests)', async () => {
    const client = await gateway({
      strategy: 'weighted-random',
      backends: [
        { provider: 'a', weight: 3 },
        { provider: 'b', weight: 1 },
      ],
    });
    const picks = [];
    for (let i = 0; i < 400; i++) picks.push(await ask(client));
    const share = picks.filter((p) => p === 'a').length / picks.length;
    // 3 standard deviations of a binomial(400, 0.75) share is ~0.065
    expect(share).toBeGreaterThan(0.75 - 0.065);
    expect(share).toBeLessThan(0.75 + 0.065);
  });

  it('round-robin interleaves smoothly and exactly by weight (2:1)', async () => {
    const client = await gateway({
      strategy: 'round-robin',
      backends: [
        { provider: 'a', weight: 2 },
        { provider: 'b', weight: 1 },
      ],
    });
    const picks = [];
    for (let i = 0; i < 12; i++) picks.push(await ask(client));
    expect(picks.join('')).toBe('abaabaabaaba');
  });

  it('least-outstanding sends fewer concurrent requests to the slow backend', async () => {
    a.setFault(() => ({ delayMs: 300 }));
    const client = await gateway({
      strategy: 'least-outstanding',
      backends: [{ provider: 'a' }, { provider: 'b' }],
    });
    for (let wave = 0; wave < 3; wave++) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          await new Promise((r) => setTimeout(r, i * 15));
          return ask(client);
        }),
      );
    }
    expect(a.requests.length + b.requests.length).toBe(30);
    expect(b.requests.length).toBeGreaterThan(2 * a.requests.length);
  });

  it('latency prefers the backend with the lower moving-average latency', async () => {
    a.setFault(() => ({ delayMs: 60 }));
    const client = await gateway({ strategy: 'latency', backends: [{ provider: 'a' }, { provider: 'b' }] });
    for (let i = 0; i < 30; i++) await ask(client);
    expect(b.requests.length).toBeGreaterThanOrEqual(27);
  });

  it('cost picks the cheapest backend whose context window fits the prompt', async () => {
    const pricey = {
      models: [
        { name: 'gpt-4o-mini', contextWindow: 100_000, pricing: { inputPerMTok: 10, outputPerMTok: 30 } },
      ],
    };
    const cheap = {
      models: [
        { name: 'gpt-4o-mini', contextWindow: 50, pricing: { inputPerMTok: 0.1, outputPerMTok: 0.4 } },
      ],
    };
    const client = await gateway(
      { strategy: 'cost', backends: [{ provider: 'a' }, { provider: 'b' }] },
      pricey,
      cheap,
    );
    for (let i = 0; i < 5; i++) expect(await ask(client, 'short')).toBe('b');
    // ~300 tokens do not fit b's 50-token window, so the pricier a serves it
    expect(await ask(client, 'word '.repeat(300))).toBe('a');
  });

  it('complexity sends simple prompts to the cheap tier and hard ones to the strong tier', async () => {
    const client = await gateway({
      strategy: 'complexity',
      complexity: { strongThreshold: 0.4 },
      backends: [
        { provider: 'a', tier: 'cheap' },
        { provider: 'b', tier: 'strong' },
      ],
    });
    expect(await ask(client, 'hi there')).toBe('a');
    expect(await ask(client, 'What is the capital of France?')).toBe('a');
    const hard =
      'Explain step by step why this function is slow and optimize it:\n```js\nfunction f(n) { return n < 2 ? n : f(n-1) + f(n-2); }\n```';
    expect(await ask(client, hard)).toBe('b');
  });
});
