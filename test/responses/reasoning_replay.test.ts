// A tool loop on a reasoning model continued by `previous_response_id`. OpenAI keeps the reasoning of
// earlier turns in context across previous_response_id (and recommends passing reasoning items back
// in tool loops); Sluice replays the stored conversation itself and left every reasoning item out,
// so through Sluice the loop lost its reasoning at every turn. Each stored reasoning item now goes
// back by id, right before the item that followed it (also by id: OpenAI refuses either without the
// other), to the provider that issued it only; a fallback to another organization gets the
// conversation as content, without reasoning or ids, and goes on. Real in-process dataplane on the
// memory store and on a real redis-server; two OpenAI fakes (two organizations) that resolve only
// the ids they issued and refuse a reasoning item without its following item, as OpenAI does; the
// official openai SDK (whole and streamed) and the OpenAI Agents SDK (`previousResponseId`).
import { Agent, OpenAIProvider, Runner, setTracingDisabled, tool } from '@openai/agents';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type FakeAgentic, startFakeAgentic } from '../fakes/openai_agentic.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { type RedisServer, startRedis } from '../helpers/redis.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';
import { sha256 } from '../policy/fixtures.ts';

type Obj = Record<string, unknown>;
type Response = OpenAI.Responses.Response;

let redis: RedisServer;
let orgA: FakeAgentic;
let orgB: FakeAgentic;

beforeAll(async () => {
  [redis, orgA, orgB] = await Promise.all([
    startRedis(),
    startFakeAgentic(UPSTREAM_KEY),
    startFakeAgentic(UPSTREAM_KEY),
  ]);
}, 30_000);

afterAll(async () => {
  await Promise.all([redis?.stop(), orgA?.close(), orgB?.close()]);
});

const WEATHER = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Current weather of a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: false,
};

/** the input items a fake received in its last Responses request */
const lastInput = (fake: FakeAgentic): Obj[] =>
  fake.requests.filter((r) => r.method === 'POST').at(-1)?.body.input as Obj[];

/** the ids a request named, in order */
const namedIds = (input: Obj[]): unknown[] => input.filter((i) => 'id' in i).map((i) => i.id);

/** the answer's first item of `type` */
const itemOf = (r: Response, type: string) =>
  r.output.find((i) => i.type === type) as unknown as Obj & { id: string };

const output = (call_id: string, out: string) => ({
  type: 'function_call_output' as const,
  call_id,
  output: out,
});

for (const storeType of ['memory', 'redis'] as const) {
  describe(`reasoning across previous_response_id turns (${storeType} store)`, () => {
    let dp: InProcessDataplane;
    let client: OpenAI;

    beforeAll(async () => {
      const key = { apiKey: { env: 'SLUICE_TEST_KEY' } };
      dp = await startDataplane({
        store: storeType === 'redis' ? { type: 'redis', redis: { url: redis.url } } : { type: 'memory' },
        providers: [
          { name: 'oa-a', type: 'openai', baseUrl: `${orgA.url}/v1`, credentials: key },
          { name: 'oa-b', type: 'openai', baseUrl: `${orgB.url}/v1`, credentials: key },
        ],
        routes: [
          { name: 'a', match: { models: ['gpt-a'] }, backends: [{ provider: 'oa-a', model: 'gpt-5' }] },
          { name: 'b', match: { models: ['gpt-b'] }, backends: [{ provider: 'oa-b', model: 'gpt-5' }] },
          {
            name: 'fb',
            match: { models: ['gpt-fb'] },
            backends: [{ provider: 'oa-a', model: 'gpt-5' }],
            fallback: [{ provider: 'oa-b', model: 'gpt-5' }],
            retry: { baseDelayMs: 1 },
          },
        ],
        namespaces: [
          { name: 'team', match: { apiKeys: [{ name: 'k', sha256: sha256(`sk-rr-${storeType}`) }] } },
        ],
      });
      client = new OpenAI({ baseURL: dp.baseURL, apiKey: `sk-rr-${storeType}`, maxRetries: 0 });
    });

    afterAll(async () => {
      await dp?.stop();
    });

    /** one turn of the loop, whole or through the SDK's stream helper */
    const turn = (
      mode: 'whole' | 'streamed',
      model: string,
      input: string | OpenAI.Responses.ResponseInputItem[],
      previous?: string,
    ): Promise<Response> => {
      const body = {
        model,
        input,
        tools: [WEATHER],
        reasoning: { effort: 'low' as const },
        ...(previous ? { previous_response_id: previous } : {}),
      };
      return mode === 'whole' ? client.responses.create(body) : client.responses.stream(body).finalResponse();
    };

    it.each(['whole', 'streamed'] as const)(
      'a %s tool loop gives each turn its earlier reasoning by id, before the item that followed it',
      async (mode) => {
        const t1 = await turn(mode, 'gpt-a', 'Weather in Paris?');
        expect(t1.output.map((i) => i.type)).toEqual(['reasoning', 'function_call']);
        const rs1 = itemOf(t1, 'reasoning');
        const fc1 = itemOf(t1, 'function_call');
        const t2 = await turn(mode, 'gpt-a', [output('call_paris', 'sunny')], t1.id);
        expect(t2.output_text).toBe('The weather is sunny.');
        expect(t2.previous_response_id).toBe(t1.id);
        const sent2 = lastInput(orgA);
        expect(sent2[1]).toEqual({ type: 'reasoning', id: rs1.id, summary: [] });
        expect(sent2[2]).toMatchObject({ type: 'function_call', id: fc1.id, call_id: 'call_paris' });
        expect(sent2[3]).toMatchObject({ type: 'function_call_output', call_id: 'call_paris' });
        // the next turn: both earlier answers' reasoning, each right before its own item
        const t3 = await turn(mode, 'gpt-a', 'And in Rome?', t2.id);
        expect(itemOf(t3, 'function_call')).toMatchObject({ call_id: 'call_rome' });
        const sent3 = lastInput(orgA);
        const rs2 = itemOf(t2, 'reasoning');
        const msg2 = itemOf(t2, 'message');
        expect(namedIds(sent3)).toEqual([rs1.id, fc1.id, rs2.id, msg2.id]);
        const at = sent3.findIndex((i) => i.id === rs2.id);
        expect(sent3[at + 1]).toMatchObject({ type: 'message', role: 'assistant', id: msg2.id });
        expect(JSON.stringify(sent3)).not.toContain('previous_response_id');
      },
    );

    it('a fallback to another organization mid-loop gets no reasoning and no ids, and the loop goes on', async () => {
      const t1 = await turn('whole', 'gpt-fb', 'Weather in Lyon?');
      const rs1 = itemOf(t1, 'reasoning');
      const fc1 = itemOf(t1, 'function_call');
      orgA.failNext(1);
      const beforeB = orgB.requests.length;
      const t2 = await turn('streamed', 'gpt-fb', [output('call_lyon', 'rainy')], t1.id);
      expect(t2.output_text).toBe('The weather is rainy.');
      // the issuer's attempt named the pair; the fallback got content: the call by call_id, no reasoning
      expect(namedIds(lastInput(orgA))).toEqual([rs1.id, fc1.id]);
      expect(orgB.requests.length).toBe(beforeB + 1);
      const sentB = lastInput(orgB);
      expect(sentB.map((i) => i.type ?? 'message')).toEqual([
        'message',
        'function_call',
        'function_call_output',
      ]);
      expect(namedIds(sentB)).toEqual([]);
      // back on the issuer: its own pair by id, the fallback's answer as content (its reasoning is org B's)
      const t3 = await turn('whole', 'gpt-fb', 'Thanks.', t2.id);
      expect(t3.status).toBe('completed');
      const sent3 = lastInput(orgA);
      expect(namedIds(sent3)).toEqual([rs1.id, fc1.id]);
      expect(sent3.filter((i) => i.type === 'reasoning')).toHaveLength(1);
      // and org B, asked directly, gets its own pair by id and not org A's
      const t4 = await turn('whole', 'gpt-b', 'Bye.', t3.id);
      expect(t4.status).toBe('completed');
      expect(namedIds(lastInput(orgB))).toEqual([itemOf(t2, 'reasoning').id, itemOf(t2, 'message').id]);
    });

    it("a deleted earlier answer's reasoning is no longer named (its provider deleted it too)", async () => {
      const t1 = await turn('whole', 'gpt-a', 'Weather in Tokyo?');
      const t2 = await turn('whole', 'gpt-a', [output('call_tokyo', 'humid')], t1.id);
      expect((await client.responses.delete(t1.id)) as unknown).toMatchObject({ deleted: true });
      expect(orgA.store.issued.has(itemOf(t1, 'reasoning').id)).toBe(false);
      // OpenAI would answer 404 for the deleted ids: they go as content, t2's pair still by id
      const t3 = await turn('whole', 'gpt-a', 'Thanks.', t2.id);
      expect(t3.status).toBe('completed');
      expect(namedIds(lastInput(orgA))).toEqual([itemOf(t2, 'reasoning').id, itemOf(t2, 'message').id]);
    });

    it('a client that also sends the previous output back by id gets each id named once', async () => {
      const t1 = await turn('whole', 'gpt-a', 'Weather in Paris?');
      const back = t1.output as unknown as OpenAI.Responses.ResponseInputItem[];
      const t2 = await turn('whole', 'gpt-a', [...back, output('call_paris', 'cold')], t1.id);
      expect(t2.output_text).toBe('The weather is cold.');
      const ids = namedIds(lastInput(orgA));
      expect(ids).toEqual([itemOf(t1, 'reasoning').id, itemOf(t1, 'function_call').id]);
    });

    it('OpenAI refuses a reasoning item without its following item, and that item without it (the fake too)', async () => {
      const t1 = await turn('whole', 'gpt-a', 'Weather in Paris?');
      const [rs, fc] = t1.output as unknown as OpenAI.Responses.ResponseInputItem[];
      const ask = (input: OpenAI.Responses.ResponseInputItem[]) =>
        client.responses.create({ model: 'gpt-a', input }).catch((e: unknown) => e);
      const lone = await ask([{ role: 'user', content: 'Weather in Paris?' }, rs as never]);
      expect(lone).toBeInstanceOf(OpenAI.BadRequestError);
      expect((lone as Error).message).toContain('without its required following item');
      const orphan = await ask([
        { role: 'user', content: 'Weather in Paris?' },
        fc as never,
        output('call_paris', 'x'),
      ]);
      expect(orphan).toBeInstanceOf(OpenAI.BadRequestError);
      expect((orphan as Error).message).toContain("without its required 'reasoning' item");
      const twice = await ask([
        rs as never,
        fc as never,
        rs as never,
        fc as never,
        output('call_paris', 'x'),
      ]);
      expect((twice as Error).message).toContain('Duplicate item found');
    });

    it.each([false, true])(
      'an OpenAI Agents SDK run with previousResponseId (stream: %s) keeps its reasoning through the tool loop',
      async (stream) => {
        setTracingDisabled(true);
        // this store's dataplane (a runner of its own: the SDK's default provider keeps its first client)
        const runner = new Runner({
          modelProvider: new OpenAIProvider({ openAIClient: client as never, useResponses: true }),
        });
        const calls: string[] = [];
        const getWeather = tool({
          name: 'get_weather',
          description: 'Current weather of a city',
          parameters: z.object({ city: z.string() }),
          execute: async ({ city }) => {
            calls.push(city);
            return `windy in ${city}`;
          },
        });
        const agent = new Agent({
          name: 'weather',
          instructions: 'Use the tool.',
          model: 'gpt-a',
          tools: [getWeather],
          modelSettings: { reasoning: { effort: 'low' } },
        });
        const first = await runner.run(agent, 'Hello.');
        const before = orgA.requests.length;
        const options = { previousResponseId: first.lastResponseId };
        const result = stream
          ? await runner.run(agent, 'Weather in Rome?', { ...options, stream: true })
          : await runner.run(agent, 'Weather in Rome?', options);
        if (stream) await (result as { completed: Promise<void> }).completed;
        expect(calls).toEqual(['Rome']);
        expect(String(result.finalOutput)).toBe('The weather is windy in Rome.');
        // the step after the tool: the SDK sent only its output, Sluice the call's reasoning by id
        const asked = orgA.requests.slice(before);
        expect(asked).toHaveLength(2);
        // the first run's turn arrived in both steps: Sluice expanded the SDK's previous_response_id
        for (const step of asked) expect(JSON.stringify(step.body.input)).toContain('Hello.');
        const sent = asked[1]?.body.input as Obj[];
        const at = sent.findIndex((i) => i.type === 'function_call' && i.call_id === 'call_rome');
        expect(sent[at]).toMatchObject({ id: expect.stringMatching(/^fc_/) });
        expect(sent[at - 1]).toEqual({ type: 'reasoning', id: expect.stringMatching(/^rs_/), summary: [] });
        expect(sent.at(-1)).toMatchObject({ type: 'function_call_output', call_id: 'call_rome' });
      },
    );
  });
}
