// One price for one request (issue 16): what a tenant's USD budget window is charged and what the
// sluice_cost_usd_total metric grows by are the same number, for every way usage can look: cached
// input, cache writes, a model without a cached price, a stream, and an OpenAI-compatible server that
// reports more cached tokens than prompt tokens. Driven through a real dataplane, the official openai
// SDK and fake upstreams; the window is read from the dataplane's store, the metric from /metrics.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemoryStore } from '../../dataplane/src/store/memory.ts';
import { windowSpan } from '../../dataplane/src/store/windows.ts';
import { type FakeAnthropic, fixtures, startFakeAnthropic } from '../fakes/anthropic.ts';
import { type FakeOpenAI, type Fault, startFakeOpenAI } from '../fakes/openai.ts';
import { type InProcessDataplane, openaiProvider, startDataplane } from '../helpers/dataplane.ts';
import { sha256 } from '../policy/fixtures.ts';

const NS = 'cost-agree';
let oa: FakeOpenAI;
let claude: FakeAnthropic;
let dp: InProcessDataplane;
let fault: Fault = {};
let client: OpenAI;

beforeAll(async () => {
  oa = await startFakeOpenAI({ name: 'oa', apiKey: process.env.SLUICE_TEST_KEY });
  oa.setFault(() => fault);
  claude = await startFakeAnthropic({ apiKey: process.env.SLUICE_TEST_KEY });
  claude.setScript(() => fixtures.cacheUsage());
  dp = await startDataplane({
    store: { type: 'memory' },
    providers: [
      openaiProvider('oa', oa.url, {
        models: [
          { name: 'gpt-4o-mini', pricing: { inputPerMTok: 2, cachedInputPerMTok: 0.5, outputPerMTok: 8 } },
          // no cached price: cached input costs what input costs
          { name: 'gpt-4o', pricing: { inputPerMTok: 5, outputPerMTok: 20 } },
        ],
      }),
      {
        name: 'claude',
        type: 'anthropic',
        baseUrl: claude.url,
        credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
        models: [
          { name: 'claude-x', pricing: { inputPerMTok: 3, cachedInputPerMTok: 0.3, outputPerMTok: 15 } },
        ],
      },
    ],
    routes: [
      { name: 'oa', match: { models: ['gpt-*'] }, backends: [{ provider: 'oa' }] },
      { name: 'claude', match: { models: ['claude-*'] }, backends: [{ provider: 'claude' }] },
    ],
    namespaces: [
      { name: NS, match: { apiKeys: [{ name: 'k', sha256: sha256('sk-cost') }] }, policies: ['spend'] },
    ],
    policies: [{ name: 'spend', budget: { usd: 100, window: 'month' } }],
  });
  client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'sk-cost', maxRetries: 0 });
});

afterAll(async () => {
  await dp?.stop();
  await oa?.close();
  await claude?.close();
});

/** micro-USD charged to the tenant's monthly budget window so far */
function budgetUsed(): number {
  const store = dp.dataplane.runtime.gate.records as MemoryStore;
  return store.peek(`{${NS}}:spend:usd:${windowSpan('month', Date.now()).id}`) ?? 0;
}

/** micro-USD the cost metric shows for the tenant, over every model and provider */
async function costMetric(): Promise<number> {
  const text = await (await fetch(`${dp.adminUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith('sluice_cost_usd_total{') && line.includes(`namespace="${NS}"`))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum * 1e6;
}

/** Runs `send`, then checks the window and the metric both grew by `expected` micro-USD. */
async function charges(expected: number, send: () => Promise<unknown>): Promise<void> {
  const [window0, metric0] = [budgetUsed(), await costMetric()];
  await send();
  const [window1, metric1] = [budgetUsed(), await costMetric()];
  expect(window1 - window0).toBeCloseTo(expected, 6);
  expect(metric1 - metric0).toBeCloseTo(expected, 6);
}

const ask = (model: string) =>
  client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello' }] });

describe('the budget window and the cost metric agree', () => {
  it('cached input at the cached price', async () => {
    fault = { promptTokens: 100, cachedTokens: 40, tokens: 5 };
    // 60 x 2 + 40 x 0.5 + 5 x 8
    await charges(180, () => ask('gpt-4o-mini'));
  });

  it('more cached tokens reported than prompt tokens: cached input is capped at the input', async () => {
    fault = { promptTokens: 100, cachedTokens: 500, tokens: 5 };
    // 100 x 0.5 + 5 x 8: never less than nothing, never a negative metric increment
    const r = await ask('gpt-4o-mini');
    expect(r.choices[0]?.message.content).toBeTruthy();
    await charges(90, () => ask('gpt-4o-mini'));
  });

  it('a model without a cached price charges cached input at the input price', async () => {
    fault = { promptTokens: 100, cachedTokens: 40, tokens: 5 };
    await charges(100 * 5 + 5 * 20, () => ask('gpt-4o'));
  });

  it('a stream with usage (cached above input: the stream ends, the metric takes the increment)', async () => {
    fault = { promptTokens: 100, cachedTokens: 500, tokens: 4 };
    await charges(100 * 0.5 + 4 * 8, async () => {
      const stream = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hello' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      expect(text).toContain('[oa]');
    });
  });

  it('cache writes (Anthropic) at the input price, cache reads at the cached price', async () => {
    // input_tokens 10 + cache_creation 20 uncached at 3, 100 cache reads at 0.3, 3 output at 15
    await charges(30 * 3 + 100 * 0.3 + 3 * 15, () => ask('claude-x'));
  });
});
