// The Vercel AI SDK's default `openai(model)` on a reasoning model (store: true) sends the reasoning of
// earlier steps back as `item_reference`s. Sluice resolved each reference to the content it keeps, and
// it keeps nothing of a reasoning item, so every tool loop through Sluice lost the model's reasoning
// between steps (OpenAI recommends passing it back: better answers, fewer tokens). A reasoning item a
// native backend issued is now named by its id to that backend, which restores it, and left out on
// any other (which could neither find nor read it). Real in-process dataplane; two OpenAI fakes (two
// organizations) that resolve only the ids they issued.
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, jsonSchema, stepCountIs, tool } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeAgentic, startFakeAgentic } from '../fakes/openai_agentic.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';

type Obj = Record<string, unknown>;

let orgA: FakeAgentic;
let orgB: FakeAgentic;
let dp: InProcessDataplane;

beforeAll(async () => {
  [orgA, orgB] = await Promise.all([startFakeAgentic(UPSTREAM_KEY), startFakeAgentic(UPSTREAM_KEY)]);
  const key = { apiKey: { env: 'SLUICE_TEST_KEY' } };
  dp = await startDataplane({
    store: { type: 'memory' },
    providers: [
      { name: 'oa-a', type: 'openai', baseUrl: `${orgA.url}/v1`, credentials: key },
      { name: 'oa-b', type: 'openai', baseUrl: `${orgB.url}/v1`, credentials: key },
    ],
    routes: [
      { name: 'a', match: { models: ['gpt-5'] }, backends: [{ provider: 'oa-a' }] },
      { name: 'b', match: { models: ['gpt-5-mini'] }, backends: [{ provider: 'oa-b' }] },
    ],
  });
});

afterAll(async () => {
  await dp?.stop();
  await Promise.all([orgA?.close(), orgB?.close()]);
});

const weather = tool({
  inputSchema: jsonSchema<{ city: string }>({
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
  }),
  execute: async ({ city }) => `sunny in ${city}`,
});

const inputOf = (fake: FakeAgentic, n: number): Obj[] => fake.requests[n]?.body.input as Obj[];

describe('item_reference to a reasoning item (Vercel AI SDK, reasoning model, store: true)', () => {
  it('the tool loop gives the reasoning back to the organization that issued it', async () => {
    const provider = createOpenAI({ baseURL: dp.baseURL, apiKey: 'client-key' });
    const before = orgA.requests.length;
    const result = await generateText({
      model: provider('gpt-5'),
      prompt: 'Weather in Paris?',
      maxRetries: 0,
      stopWhen: stepCountIs(3),
      tools: { get_weather: weather },
      providerOptions: { openai: { reasoningEffort: 'low' } },
    });
    expect(result.steps).toHaveLength(2);
    expect(result.text).toBe('The weather is sunny in Paris.');
    // the first step's answer (the fake's second-to-last stored response) began with the reasoning
    const rsId = [...orgA.store.responses.values()].at(-2)?.[0];
    expect(rsId).toMatch(/^rs_/);
    // the SDK sent it as an item_reference; OpenAI got it by id, right before the call it led to
    const second = inputOf(orgA, before + 1);
    const at = second.findIndex((i) => i.type === 'reasoning');
    expect(second[at]).toEqual({ type: 'reasoning', id: rsId, summary: [] });
    expect(second[at + 1]).toMatchObject({ type: 'function_call', call_id: 'call_paris' });
  });

  it('a reference to it sent to another organization leaves it out (it could neither find nor read it)', async () => {
    const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'client-key', maxRetries: 0 });
    const first = await client.responses.create({
      model: 'gpt-5',
      input: 'Think.',
      reasoning: { effort: 'low' },
    });
    const [rs, msg] = first.output;
    expect(rs?.type).toBe('reasoning');
    const input: OpenAI.Responses.ResponseInputItem[] = [
      { role: 'user', content: 'Think.' },
      { type: 'item_reference', id: rs?.id as string },
      { type: 'item_reference', id: msg?.id as string },
      { role: 'user', content: 'More.' },
    ];
    expect((await client.responses.create({ model: 'gpt-5-mini', input })).status).toBe('completed');
    const sentB = orgB.requests.at(-1)?.body.input as Obj[];
    expect(sentB.map((i) => i.type)).toEqual(['message', 'message', 'message']);
    expect(sentB.some((i) => 'id' in i)).toBe(false);
    // to its issuer: the reasoning by id, the message with its id
    expect((await client.responses.create({ model: 'gpt-5', input })).status).toBe('completed');
    const sentA = orgA.requests.at(-1)?.body.input as Obj[];
    expect(sentA[1]).toEqual({ type: 'reasoning', id: rs?.id, summary: [] });
    expect(sentA[2]).toMatchObject({ type: 'message', role: 'assistant', id: msg?.id });
  });
});
