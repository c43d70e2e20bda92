// A tool call Gemini made carries its thought signature inside its call_id (docs/providers.md), often
// hundreds of characters. OpenAI's Responses API refuses a `call_id` over 64 characters (400
// "string_above_max_length"), so a conversation that had called a tool on Gemini failed on its next
// turn on a native OpenAI backend. Sluice now sends such a call_id as a digest, the same on the call
// and its output; Gemini still gets its signature back. Real in-process dataplane; the validating
// Gemini fake and the OpenAI fake that checks call_id lengths as OpenAI does; the official openai SDK.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeGemini, startFakeGemini } from '../fakes/gemini.ts';
import { type FakeAgentic, startFakeAgentic } from '../fakes/openai_agentic.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';

type Obj = Record<string, unknown>;

let gemini: FakeGemini;
let oa: FakeAgentic;
let dp: InProcessDataplane;

beforeAll(async () => {
  [gemini, oa] = await Promise.all([
    startFakeGemini({ apiKey: UPSTREAM_KEY }),
    startFakeAgentic(UPSTREAM_KEY),
  ]);
  const key = { apiKey: { env: 'SLUICE_TEST_KEY' } };
  dp = await startDataplane({
    providers: [
      { name: 'gem', type: 'gemini', baseUrl: gemini.url, credentials: key },
      { name: 'oa', type: 'openai', baseUrl: `${oa.url}/v1`, credentials: key },
    ],
    routes: [
      { name: 'g', match: { models: ['gemini-x'] }, backends: [{ provider: 'gem', model: 'gemini-3-pro' }] },
      { name: 'o', match: { models: ['gpt-x'] }, backends: [{ provider: 'oa', model: 'gpt-5' }] },
    ],
  });
});

afterAll(async () => {
  await dp?.stop();
  await Promise.all([gemini?.close(), oa?.close()]);
});

const WEATHER = {
  type: 'function' as const,
  name: 'get_weather',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: false,
};
// a thought signature of the size Gemini 3 sends (opaque base64)
const SIGNATURE = Buffer.alloc(300, 7).toString('base64');

describe('a Gemini tool call continued on native OpenAI', () => {
  it('sends the long call_id as one digest on the call and its output; Gemini keeps its signature', async () => {
    const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'client-key', maxRetries: 0 });
    gemini.script(() => ({
      chunks: [
        {
          candidates: [
            {
              index: 0,
              content: {
                role: 'model',
                parts: [
                  {
                    functionCall: { name: 'get_weather', args: { city: 'Rome' } },
                    thoughtSignature: SIGNATURE,
                  },
                ],
              },
              finishReason: 'STOP',
            },
          ],
          usageMetadata: { promptTokenCount: 9, candidatesTokenCount: 3, totalTokenCount: 12 },
        },
      ],
    }));
    const first = await client.responses.create({
      model: 'gemini-x',
      input: 'Weather in Rome?',
      tools: [WEATHER],
    });
    const call = first.output.find((i) => i.type === 'function_call');
    expect(call?.type === 'function_call' && call.call_id.length).toBeGreaterThan(64);
    const callId = (call as { call_id: string }).call_id;
    const input: OpenAI.Responses.ResponseInputItem[] = [
      { role: 'user', content: 'Weather in Rome?' },
      ...(first.output as unknown as OpenAI.Responses.ResponseInputItem[]),
      { type: 'function_call_output', call_id: callId, output: '21C' },
    ];
    const next = await client.responses.create({ model: 'gpt-x', input, tools: [WEATHER] });
    expect(next.output_text).toBe('The weather is 21C.');
    const sent = oa.requests.at(-1)?.body.input as Obj[];
    const sentCall = sent.find((i) => i.type === 'function_call') as Obj;
    const sentOutput = sent.find((i) => i.type === 'function_call_output') as Obj;
    expect((sentCall.call_id as string).length).toBeLessThanOrEqual(64);
    expect(sentOutput.call_id).toBe(sentCall.call_id);
    // the same history back on Gemini: its signature is restored on the call, as Gemini requires
    gemini.script(() => ({
      chunks: [
        {
          candidates: [
            { index: 0, content: { role: 'model', parts: [{ text: 'Mild.' }] }, finishReason: 'STOP' },
          ],
          usageMetadata: { promptTokenCount: 9, candidatesTokenCount: 1, totalTokenCount: 10 },
        },
      ],
    }));
    expect((await client.responses.create({ model: 'gemini-x', input, tools: [WEATHER] })).output_text).toBe(
      'Mild.',
    );
    const contents = gemini.requests.at(-1)?.body?.contents as Array<{ parts: Obj[] }>;
    const part = contents.flatMap((c) => c.parts).find((p) => p.functionCall);
    expect(part?.thoughtSignature).toBe(SIGNATURE);
  });
});
