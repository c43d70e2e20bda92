// The Anthropic SDK's stream helper (messages.stream(): inputJson events, finalMessage) on an
// OpenAI-compatible backend whose parallel tool calls interleave by `index`, as the chat format allows:
// call 0 starts, call 1 starts, then their arguments alternate. Sluice used to close call 0 when call 1
// appeared and reopen it for its next fragment, so the SDK got four tool_use blocks and threw on JSON it
// could not parse. A scripted upstream sends the exact chunks; a real in-process dataplane translates.
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScriptedUpstream, startScriptedUpstream } from '../fakes/scripted_upstream.ts';
import { INTERLEAVED_WEATHER_CALLS, serveChatStream } from '../helpers/chat_chunks.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';

let up: ScriptedUpstream;
let dp: InProcessDataplane;
let client: Anthropic;

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
  client = new Anthropic({ baseURL: dp.url, apiKey: 'client-key', maxRetries: 0 });
});

afterAll(async () => {
  await dp?.stop();
  await up?.close();
});

const WEATHER: Anthropic.Tool = {
  name: 'get_weather',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

describe('Anthropic SDK stream helpers, parallel tool calls from an OpenAI-compatible backend', () => {
  it('interleaved argument fragments: two tool_use blocks with whole inputs', async () => {
    serveChatStream(up, INTERLEAVED_WEATHER_CALLS);
    const stream = client.messages.stream({
      model: 'm',
      max_tokens: 200,
      tools: [WEATHER],
      messages: [{ role: 'user', content: 'Weather in Paris and Rome?' }],
    });
    const snapshots: unknown[] = [];
    stream.on('inputJson', (_partial, snapshot) => snapshots.push(snapshot));
    const msg = await stream.finalMessage();
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.content).toEqual([
      { type: 'tool_use', id: 'call_paris', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'call_rome', name: 'get_weather', input: { city: 'Rome' } },
    ]);
    expect(snapshots.at(-1)).toEqual({ city: 'Rome' });
    expect(msg.usage).toMatchObject({ input_tokens: 20, output_tokens: 12 });
  });
});
