// The Vercel AI SDK's default `openai(model)` (the Responses API) and the openai SDK's
// responses.stream() through Sluice to a chat-completions backend whose parallel tool calls interleave
// by `index`, as the chat format allows. The Vercel AI SDK runs a function call with the arguments its
// output_item.done carries: Sluice closed call 0 when call 1 appeared, so call 0 ran with `{}`. A
// scripted upstream sends the exact chunks; a real in-process dataplane translates.
import { createOpenAI } from '@ai-sdk/openai';
import { jsonSchema, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScriptedUpstream, startScriptedUpstream } from '../fakes/scripted_upstream.ts';
import { INTERLEAVED_WEATHER_CALLS, serveChatStream } from '../helpers/chat_chunks.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';

let up: ScriptedUpstream;
let dp: InProcessDataplane;

beforeAll(async () => {
  up = await startScriptedUpstream();
  dp = await startDataplane({
    providers: [
      {
        name: 'compat',
        type: 'vllm',
        baseUrl: `${up.url}/v1`,
        credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
      },
    ],
    routes: [
      {
        name: 'compat',
        match: { models: ['*'] },
        backends: [{ provider: 'compat' }],
        retry: { attempts: 0 },
      },
    ],
  });
});

afterAll(async () => {
  await dp?.stop();
  await up?.close();
});

beforeAll(() => serveChatStream(up, INTERLEAVED_WEATHER_CALLS));

const PARAMS = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } as const;

describe('Responses clients, interleaved parallel tool calls from a chat backend', () => {
  it('Vercel AI SDK streamText runs each call with its own arguments', async () => {
    const seen: unknown[] = [];
    const provider = createOpenAI({ baseURL: dp.baseURL, apiKey: 'client-key' });
    const result = streamText({
      model: provider('m'),
      prompt: 'Weather in Paris and Rome?',
      tools: {
        get_weather: tool({
          inputSchema: jsonSchema<{ city: string }>(PARAMS),
          execute: async (input) => {
            seen.push(input);
            return 'sunny';
          },
        }),
      },
    });
    const calls = await result.toolCalls;
    expect(calls.map((c) => [c.toolCallId, c.input])).toEqual([
      ['call_paris', { city: 'Paris' }],
      ['call_rome', { city: 'Rome' }],
    ]);
    expect(seen).toEqual([{ city: 'Paris' }, { city: 'Rome' }]);
  });

  it('openai SDK responses.stream: each function_call item is done with its whole arguments', async () => {
    const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'client-key', maxRetries: 0 });
    const stream = client.responses.stream({
      model: 'm',
      input: 'Weather in Paris and Rome?',
      tools: [{ type: 'function', name: 'get_weather', strict: false, parameters: PARAMS }],
    });
    const doneArgs: string[] = [];
    for await (const e of stream)
      if (e.type === 'response.output_item.done' && e.item.type === 'function_call')
        doneArgs.push(e.item.arguments);
    expect(doneArgs).toEqual(['{"city":"Paris"}', '{"city":"Rome"}']);
    const final = await stream.finalResponse();
    expect(final.output.map((i) => (i.type === 'function_call' ? i.call_id : i.type))).toEqual([
      'call_paris',
      'call_rome',
    ]);
  });
});
