// A Responses conversation that moves between providers, as routing and fallback make normal. A client
// that sends `response.output` back as input (the openai SDK's documented manual loop, the OpenAI
// Agents SDK's history) carries each item's `id`. OpenAI resolves an input item's id in its own store
// and answers 404 "Item with id ... not found" for one it never issued: Sluice passed every inline id
// to a native OpenAI backend, so the ids it had minted for an Anthropic or Gemini turn, or that
// another OpenAI organization had issued, broke the next turn served natively. Sluice now keeps an id
// (and a reasoning item) only for the provider that issued it; elsewhere the item goes as content.
// Real in-process dataplane; fakes of OpenAI (two organizations, each resolving only its own ids),
// Anthropic and Gemini that check what they receive; the official openai SDK and the Agents SDK.
import { Agent, run, setDefaultOpenAIClient, setOpenAIAPI, setTracingDisabled, user } from '@openai/agents';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeAnthropic, startFakeAnthropic } from '../fakes/anthropic.ts';
import { type FakeGemini, startFakeGemini } from '../fakes/gemini.ts';
import { type FakeAgentic, startFakeAgentic } from '../fakes/openai_agentic.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';
import { sha256 } from '../policy/fixtures.ts';

type Obj = Record<string, unknown>;

let orgA: FakeAgentic;
let orgB: FakeAgentic;
let anthropic: FakeAnthropic;
let gemini: FakeGemini;
let dp: InProcessDataplane;
let client: OpenAI;
let other: OpenAI;

const WEATHER = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Current weather of a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: false,
};

beforeAll(async () => {
  [orgA, orgB, anthropic, gemini] = await Promise.all([
    startFakeAgentic(UPSTREAM_KEY),
    startFakeAgentic(UPSTREAM_KEY),
    startFakeAnthropic({ apiKey: UPSTREAM_KEY }),
    startFakeGemini({ apiKey: UPSTREAM_KEY }),
  ]);
  const key = { apiKey: { env: 'SLUICE_TEST_KEY' } };
  dp = await startDataplane({
    store: { type: 'memory' },
    providers: [
      { name: 'oa-a', type: 'openai', baseUrl: `${orgA.url}/v1`, credentials: key },
      { name: 'oa-b', type: 'openai', baseUrl: `${orgB.url}/v1`, credentials: key },
      { name: 'claude', type: 'anthropic', baseUrl: anthropic.url, credentials: key },
      { name: 'gem', type: 'gemini', baseUrl: gemini.url, credentials: key },
    ],
    routes: [
      { name: 'a', match: { models: ['gpt-a'] }, backends: [{ provider: 'oa-a', model: 'gpt-5' }] },
      { name: 'b', match: { models: ['gpt-b'] }, backends: [{ provider: 'oa-b', model: 'gpt-5' }] },
      {
        name: 'fb',
        match: { models: ['gpt-fallback'] },
        backends: [{ provider: 'oa-a', model: 'gpt-5' }],
        fallback: [{ provider: 'oa-b', model: 'gpt-5' }],
        retry: { baseDelayMs: 1 },
      },
      {
        name: 'c',
        match: { models: ['claude-x'] },
        backends: [{ provider: 'claude', model: 'claude-sonnet-4-5' }],
      },
      {
        name: 'g',
        match: { models: ['gemini-x'] },
        backends: [{ provider: 'gem', model: 'gemini-2.5-flash' }],
      },
    ],
    namespaces: [
      { name: 'team-a', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-xp-a') }] } },
      { name: 'team-b', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-xp-b') }] } },
    ],
  });
  client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'sk-xp-a', maxRetries: 0 });
  other = new OpenAI({ baseURL: dp.baseURL, apiKey: 'sk-xp-b', maxRetries: 0 });
});

afterAll(async () => {
  await dp?.stop();
  await Promise.all([orgA?.close(), orgB?.close(), anthropic?.close(), gemini?.close()]);
});

/** the input items the fake received in its last Responses request */
const lastInput = (fake: FakeAgentic): Obj[] => fake.requests.at(-1)?.body.input as Obj[];

/** the output of a response as the next request's input (what the openai SDK's docs do) */
const back = (r: OpenAI.Responses.Response) => r.output as unknown as OpenAI.Responses.ResponseInputItem[];

describe('inline item ids across providers (native OpenAI resolves only ids it issued)', () => {
  it('a turn answered by Anthropic, sent back inline to native OpenAI: content, not Sluice-minted ids', async () => {
    anthropic.setScript(() => ({ content: [{ type: 'text', text: 'Ada, noted.' }] }));
    const first = await client.responses.create({ model: 'claude-x', input: 'My name is Ada.' });
    expect(first.output[0]?.id).toMatch(/^msg_/);
    const next = await client.responses.create({
      model: 'gpt-a',
      input: [
        { role: 'user', content: 'My name is Ada.' },
        ...back(first),
        { role: 'user', content: 'Who am I?' },
      ],
    });
    expect(next.status).toBe('completed');
    const sent = lastInput(orgA);
    expect(sent).toHaveLength(3);
    expect(sent[1]).toMatchObject({ type: 'message', role: 'assistant' });
    expect(sent[1]).not.toHaveProperty('id');
    expect(JSON.stringify(sent[1])).toContain('Ada, noted.');
  });

  it('a tool call answered by Anthropic continues on native OpenAI by call_id, without its fc_ id', async () => {
    anthropic.setScript(() => ({
      content: [{ type: 'tool_use', id: 'toolu_lyon', name: 'get_weather', input: { city: 'Lyon' } }],
      stopReason: 'tool_use',
    }));
    const first = await client.responses.create({
      model: 'claude-x',
      input: 'Weather in Lyon?',
      tools: [WEATHER],
    });
    const call = first.output.find((i) => i.type === 'function_call');
    expect(call).toMatchObject({ call_id: 'toolu_lyon', id: expect.stringMatching(/^fc_/) });
    const next = await client.responses.create({
      model: 'gpt-a',
      tools: [WEATHER],
      input: [
        { role: 'user', content: 'Weather in Lyon?' },
        ...back(first),
        { type: 'function_call_output', call_id: 'toolu_lyon', output: '18C' },
      ],
    });
    expect(next.output_text).toBe('The weather is 18C.');
    const sent = lastInput(orgA).find((i) => i.type === 'function_call');
    expect(sent).toMatchObject({ call_id: 'toolu_lyon', name: 'get_weather' });
    expect(sent).not.toHaveProperty('id');
  });

  it("OpenAI's own ids go back to the organization that issued them, never to another one", async () => {
    const first = await client.responses.create({ model: 'gpt-a', input: 'Hello' });
    const id = first.output[0]?.id as string;
    expect(orgA.store.issued.has(id)).toBe(true);
    const input = [
      { role: 'user' as const, content: 'Hello' },
      ...back(first),
      { role: 'user' as const, content: 'Again' },
    ];
    // the same provider: the id is kept (OpenAI links the item to its stored original)
    expect((await client.responses.create({ model: 'gpt-a', input })).status).toBe('completed');
    expect(lastInput(orgA)[1]).toMatchObject({ id });
    // another OpenAI provider (another organization, a fallback account): content only
    expect((await client.responses.create({ model: 'gpt-b', input })).status).toBe('completed');
    expect(lastInput(orgB)[1]).not.toHaveProperty('id');
  });

  it("a request that falls back to another OpenAI organization sends it content, not the first one's ids", async () => {
    const first = await client.responses.create({
      model: 'gpt-a',
      input: 'Think.',
      reasoning: { effort: 'low' },
    });
    const input = [
      { role: 'user' as const, content: 'Think.' },
      ...back(first),
      { role: 'user' as const, content: 'On.' },
    ];
    orgA.failNext(1);
    const before = orgB.requests.length;
    const next = await client.responses.create({
      model: 'gpt-fallback',
      input,
      reasoning: { effort: 'low' },
    });
    expect(next.status).toBe('completed');
    // the first attempt went to the issuer with the ids, the fallback to org B without them
    expect(lastInput(orgA)[1]).toMatchObject({ type: 'reasoning', id: first.output[0]?.id });
    expect(orgB.requests.length).toBe(before + 1);
    expect(lastInput(orgB).map((i) => i.type ?? 'message')).toEqual(['message', 'message', 'message']);
    expect(lastInput(orgB).some((i) => 'id' in i)).toBe(false);
    // what Sluice stored is org B's answer: its ids now go to org B, and to org A as content
    const again = [...input, ...back(next), { role: 'user' as const, content: 'End.' }];
    expect((await client.responses.create({ model: 'gpt-b', input: again })).status).toBe('completed');
    expect(
      lastInput(orgB)
        .filter((i) => 'id' in i)
        .map((i) => i.id),
    ).toEqual(next.output.map((o) => o.id));
    expect((await client.responses.create({ model: 'gpt-a', input: again })).status).toBe('completed');
  });

  it('a reasoning item another provider produced is not sent to native OpenAI (it can neither find nor read it)', async () => {
    gemini.script(() => ({
      chunks: [
        {
          candidates: [
            { index: 0, content: { role: 'model', parts: [{ text: 'Thinking it over.', thought: true }] } },
          ],
        },
        {
          candidates: [
            { index: 0, content: { role: 'model', parts: [{ text: 'Pick B.' }] }, finishReason: 'STOP' },
          ],
          usageMetadata: {
            promptTokenCount: 5,
            candidatesTokenCount: 2,
            thoughtsTokenCount: 4,
            totalTokenCount: 11,
          },
        },
      ],
    }));
    const first = await client.responses.stream({ model: 'gemini-x', input: 'A or B?' }).finalResponse();
    expect(first.output.map((i) => i.type)).toEqual(['reasoning', 'message']);
    const next = await client.responses.create({
      model: 'gpt-a',
      input: [{ role: 'user', content: 'A or B?' }, ...back(first), { role: 'user', content: 'Why?' }],
    });
    expect(next.status).toBe('completed');
    expect(lastInput(orgA).map((i) => i.type ?? 'message')).toEqual(['message', 'message', 'message']);
  });

  it("OpenAI's reasoning items (store: true) go back by id to their issuer only", async () => {
    const first = await client.responses.create({
      model: 'gpt-a',
      input: 'Think.',
      reasoning: { effort: 'low' },
    });
    const rs = first.output[0];
    expect(rs).toMatchObject({ type: 'reasoning', id: expect.stringMatching(/^rs_/) });
    const input = [
      { role: 'user' as const, content: 'Think.' },
      ...back(first),
      { role: 'user' as const, content: 'More.' },
    ];
    expect(
      (await client.responses.create({ model: 'gpt-a', input, reasoning: { effort: 'low' } })).status,
    ).toBe('completed');
    expect(lastInput(orgA)[1]).toMatchObject({ type: 'reasoning', id: rs?.id });
    // another organization can neither find the id nor read the item: it is left out there
    expect((await client.responses.create({ model: 'gpt-b', input })).status).toBe('completed');
    expect(lastInput(orgB).map((i) => i.type ?? 'message')).toEqual(['message', 'message', 'message']);
  });

  it("OpenAI's stateless reasoning loop (store: false, encrypted_content) passes through Sluice", async () => {
    const ask = (input: string | OpenAI.Responses.ResponseInputItem[], model = 'gpt-a', as = client) =>
      as.responses.create({
        model,
        input,
        store: false,
        reasoning: { effort: 'low' },
        include: ['reasoning.encrypted_content'],
      });
    const first = await ask('Think.');
    const [rs, msg] = first.output;
    expect(rs).toMatchObject({ type: 'reasoning', encrypted_content: expect.any(String) });
    // as OpenAI documents it: the reasoning item back whole, the message as content (store is off)
    expect(msg?.type).toBe('message');
    const assistant = { role: 'assistant' as const, content: first.output_text };
    const input: OpenAI.Responses.ResponseInputItem[] = [
      { role: 'user', content: 'Think.' },
      rs as OpenAI.Responses.ResponseReasoningItem,
      assistant,
      { role: 'user', content: 'More.' },
    ];
    expect((await ask(input)).status).toBe('completed');
    expect(lastInput(orgA)[1]).toEqual(rs);
    // another organization (a fallback account) could not read it: left out, not its 400
    expect((await ask(input, 'gpt-b')).status).toBe('completed');
    expect(lastInput(orgB).map((i) => i.type ?? 'message')).toEqual(['message', 'message', 'message']);
    // Sluice kept only whose id it is, for this tenant: another tenant naming it reaches no provider
    const before = orgA.requests.length;
    const err = await ask(input, 'gpt-a', other).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as Error).message).toContain(`Item with id '${rs?.id}' not found`);
    expect(orgA.requests.length).toBe(before);
  });

  it('an OpenAI Agents SDK history from a Claude agent continues with a GPT agent', async () => {
    setTracingDisabled(true);
    setOpenAIAPI('responses');
    setDefaultOpenAIClient(client as never);
    anthropic.setScript(() => ({ content: [{ type: 'text', text: 'Hello Ada.' }] }));
    const claude = new Agent({ name: 'claude', instructions: 'Be brief.', model: 'claude-x' });
    const first = await run(claude, 'I am Ada.');
    expect(String(first.finalOutput)).toBe('Hello Ada.');
    const gpt = new Agent({ name: 'gpt', instructions: 'Be brief.', model: 'gpt-a' });
    const second = await run(gpt, [...first.history, user('Who am I?')]);
    expect(String(second.finalOutput)).toContain('you said: Who am I?');
    expect(lastInput(orgA).some((i) => 'id' in i)).toBe(false);
  });

  it("another tenant can not name a tenant's OpenAI-issued ids, and nothing reaches OpenAI", async () => {
    const first = await client.responses.create({ model: 'gpt-a', input: 'Hello' });
    const id = first.output[0]?.id as string;
    const before = orgA.requests.length;
    const err = await other.responses
      .create({ model: 'gpt-a', input: [...back(first), { role: 'user', content: 'mine now' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as Error).message).toContain(`Item with id '${id}' not found`);
    expect(orgA.requests.length).toBe(before);
  });
});

describe('previous_response_id chains whose turns different providers serve', () => {
  it('Claude -> OpenAI -> Gemini -> another OpenAI organization: each gets the whole conversation', async () => {
    anthropic.setScript(() => ({ content: [{ type: 'text', text: 'Hi Ada.' }] }));
    gemini.script(() => ({
      chunks: [
        {
          candidates: [
            { index: 0, content: { role: 'model', parts: [{ text: 'Still Ada.' }] }, finishReason: 'STOP' },
          ],
          usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 2, totalTokenCount: 7 },
        },
      ],
    }));
    const t1 = await client.responses.create({ model: 'claude-x', input: 'I am Ada.' });
    const t2 = await client.responses.create({ model: 'gpt-a', input: 'Two', previous_response_id: t1.id });
    expect(t2.previous_response_id).toBe(t1.id);
    expect(t2.output_text).toBe('3 turns; you said: Two');
    const t3 = await client.responses.create({
      model: 'gemini-x',
      input: 'Three',
      previous_response_id: t2.id,
    });
    expect(t3.output_text).toBe('Still Ada.');
    const t4 = await client.responses.create({ model: 'gpt-b', input: 'Four', previous_response_id: t3.id });
    // the user's four turns and three answers, as content: no id, no previous_response_id upstream
    expect(t4.output_text).toBe('7 turns; you said: Four');
    const sent = orgB.requests.at(-1)?.body as Obj;
    expect(sent).not.toHaveProperty('previous_response_id');
    expect((sent.input as Obj[]).some((i) => 'id' in i)).toBe(false);
  });

  it('a reasoning item sent inline in one turn is replayed by id, with its message, to its issuer only', async () => {
    const first = await client.responses.create({
      model: 'gpt-a',
      input: 'Think.',
      reasoning: { effort: 'low' },
    });
    const t2 = await client.responses.create({
      model: 'gpt-a',
      input: [{ role: 'user', content: 'Think.' }, ...back(first), { role: 'user', content: 'More.' }],
    });
    expect(lastInput(orgA)[1]).toMatchObject({ type: 'reasoning', id: first.output[0]?.id });
    // the stored conversation names it by id, right before the message that followed it (OpenAI
    // refuses a reasoning item without its following item), to the organization that issued it
    const t3 = await client.responses.create({ model: 'gpt-a', input: 'Last.', previous_response_id: t2.id });
    expect(t3.status).toBe('completed');
    expect(lastInput(orgA)[1]).toEqual({ type: 'reasoning', id: first.output[0]?.id, summary: [] });
    expect(lastInput(orgA)[2]).toMatchObject({ type: 'message', id: first.output[1]?.id });
    // another organization: neither the reasoning item nor an id (it was never replayed without its id)
    const t4 = await client.responses.create({ model: 'gpt-b', input: 'Last.', previous_response_id: t2.id });
    expect(t4.status).toBe('completed');
    expect(lastInput(orgB).some((i) => i.type === 'reasoning' || 'id' in i)).toBe(false);
  });

  it('an item_reference to an item another provider produced reaches native OpenAI as content', async () => {
    anthropic.setScript(() => ({ content: [{ type: 'text', text: 'Noted, Ada.' }] }));
    const first = await client.responses.create({ model: 'claude-x', input: 'I am Ada.' });
    const next = await client.responses.create({
      model: 'gpt-a',
      input: [
        { role: 'user', content: 'I am Ada.' },
        { type: 'item_reference', id: first.output[0]?.id as string },
        { role: 'user', content: 'Who?' },
      ],
    });
    expect(next.status).toBe('completed');
    expect(lastInput(orgA)[1]).toEqual({
      type: 'message',
      role: 'assistant',
      content: [expect.objectContaining({ type: 'output_text', text: 'Noted, Ada.' })],
    });
  });

  it('a turn made with store: false cannot be continued, whichever provider served it', async () => {
    const t1 = await client.responses.create({ model: 'gpt-a', input: 'Hello', store: false });
    expect(orgA.store.issued.has(t1.output[0]?.id as string)).toBe(false);
    const err = await client.responses
      .create({ model: 'claude-x', input: 'Again', previous_response_id: t1.id })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('previous_response_not_found');
  });

  it("another tenant can not continue a tenant's conversation", async () => {
    const t1 = await client.responses.create({ model: 'gpt-a', input: 'Secret' });
    const err = await other.responses
      .create({ model: 'gpt-b', input: 'Tell', previous_response_id: t1.id })
      .catch((e: unknown) => e);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('previous_response_not_found');
  });
});
