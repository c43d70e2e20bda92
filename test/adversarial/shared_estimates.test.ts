// For models whose tokenizer is not public, Sluice estimates prompt tokens and corrects the estimate
// by what the provider reports (policy/correction.ts). The correction was learned from every tenant's
// traffic together: a tenant whose prompts the provider bills at three times the estimate (text the
// estimate undercounts; here a fake upstream that reports so) tripled every other tenant's counted
// prompts, and a neighbour's prompt well within its `maxInputTokens` was refused as too long (its
// token windows were charged the same way at admission). Each tenant now has its own correction.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countPromptTokens } from '../../dataplane/src/tokens/counter.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { type InProcessDataplane, openaiProvider, startDataplane } from '../helpers/dataplane.ts';
import { sha256 } from '../policy/fixtures.ts';

const KEY_A = 'sk-estimates-tenant-a-0001';
const KEY_B = 'sk-estimates-tenant-b-0002';
const MODEL = 'claude-sonnet-4-5'; // counted by estimate
const PROMPT = 'Please summarise the following meeting notes for the team. '.repeat(30);
let up: FakeOpenAI;
let dp: InProcessDataplane;

beforeAll(async () => {
  up = await startFakeOpenAI({ name: 'up' });
  // a's prompts are billed far above the estimate (the fake reports the JSON length); the rest honestly
  up.setFault((req) => (JSON.stringify(req.body).includes('inflate') ? {} : { promptTokens: 1 }));
  const estimate = countPromptTokens(PROMPT, 1, 'estimate');
  dp = await startDataplane({
    providers: [openaiProvider('up', up.url)],
    routes: [{ name: 'r', match: { models: [MODEL] }, backends: [{ provider: 'up' }] }],
    namespaces: [
      // a has token limits of its own (so its prompts are counted, and their usage observed)
      { name: 'team-a', match: { apiKeys: [{ name: 'a', sha256: sha256(KEY_A) }] }, policies: ['roomy'] },
      { name: 'team-b', match: { apiKeys: [{ name: 'b', sha256: sha256(KEY_B) }] }, policies: ['fits'] },
    ],
    // b's prompt fits with room to spare: twice its estimate
    policies: [
      { name: 'fits', maxInputTokens: 2 * estimate + 20 },
      { name: 'roomy', tokens: [{ limit: 10_000_000, window: 'day' }] },
    ],
  });
});

afterAll(async () => {
  await dp?.stop();
  await up?.close();
});

const ask = (key: string, content: string) =>
  new OpenAI({ baseURL: dp.baseURL, apiKey: key, maxRetries: 0 }).chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content }],
  });

describe('the token estimate correction', () => {
  it("is not learned from another tenant's traffic", async () => {
    for (let i = 0; i < 5; i++) await ask(KEY_A, `inflate ${PROMPT}`);
    const answer = await ask(KEY_B, PROMPT);
    expect(answer.choices[0]?.message.content).toBeTruthy();
  });
});
